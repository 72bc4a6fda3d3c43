# Sidekiq's own Web UI (the Debian package's Sidekiq 6.4.1), served by `rackup` against
# the Redis in REDIS_URL. Sidekiq::Web's CSRF protection needs a Rack session.

require "securerandom"
require "rack/session/cookie"
require "sidekiq/web"

Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

use Rack::Session::Cookie, secret: SecureRandom.hex(32), same_site: true, max_age: 3600
run Sidekiq::Web
