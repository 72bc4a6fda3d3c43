#!/bin/sh
# Run by `python -m infra.offline build` inside the debootstrap tree (chroot), after
# it wrote the apt sources and the host's extra CA certificates
# (/usr/local/share/ca-certificates/). Makes the tree what Debian's official images
# are: no service starts at package install, no package cache, no apt lists.
set -eu

# Package scripts must not start daemons in an image build (redis-server,
# postgresql): invoke-rc.d asks this file, and 101 means "not allowed".
cat >/usr/sbin/policy-rc.d <<'EOF'
#!/bin/sh
exit 101
EOF
chmod 0755 /usr/sbin/policy-rc.d

# The system bundle with the host's extra CAs: pip (Debian's, in a venv) and every
# other TLS client in the image read /etc/ssl/certs/ca-certificates.crt.
update-ca-certificates --fresh >/dev/null

# Debian's docker images' apt settings: no .deb kept after install.
cat >/etc/apt/apt.conf.d/docker-clean <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF

apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
rm -f /etc/hostname /etc/resolv.conf
