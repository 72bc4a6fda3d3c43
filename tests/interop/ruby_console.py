"""A Ruby process with Sidekiq's API loaded, which tests drive with Ruby snippets.

    console = RubyConsole.start(redis_url, log_path)
    console.run("Sidekiq::Client.push('class' => 'ProcessReportJob', 'args' => [1])")
    console.run("InteropSnapshots.stats")   # helpers from ruby/snapshots.rb

Each snippet's value comes back as JSON; a Ruby exception raises RubyError here.
"""

from __future__ import annotations

import contextlib
import json
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.interop.child import Child

RUBY_DIR = Path(__file__).resolve().parent / "ruby"


class RubyError(AssertionError):
    """A snippet raised in Ruby (an assertion failure of the test that sent it)."""


def require_ruby_sidekiq() -> None:
    """Fail loudly, never skip, when Debian's Ruby or Sidekiq is missing."""
    if shutil.which("ruby") is None or shutil.which("sidekiq") is None:
        raise RuntimeError(
            "the interop tests need Debian's Sidekiq: run `make test` (it installs it) or "
            "`apt-get install ruby-sidekiq`"
        )


class RubyConsole:
    def __init__(self, child: Child):
        self.child = child

    @classmethod
    def start(
        cls, redis_url: str, log_path: Path, *, requires: tuple[str, ...] = ()
    ) -> RubyConsole:
        require_ruby_sidekiq()
        command = ["ruby"]
        for library in requires:
            command += ["-r", library]
        command.append(str(RUBY_DIR / "console.rb"))
        child = Child(
            command,
            log_path,
            cwd=RUBY_DIR,
            env={"REDIS_URL": redis_url},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        console = cls(child)
        if console.run("Sidekiq::VERSION") is None:
            raise RuntimeError(f"the Ruby console did not start; see {log_path}")
        return console

    def run(self, code: str, timeout: float = 20.0) -> Any:
        """Evaluate `code` in the console and return its value."""
        stdin, stdout = self.child.process.stdin, self.child.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"code": code}).encode() + b"\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(
                f"no reply from the Ruby console within {timeout}s to {code!r}; "
                f"log:\n{self.child.log()[-2000:]}"
            )
        reply = json.loads(line)
        if "error" in reply:
            trace = "\n".join(reply.get("backtrace") or [])
            raise RubyError(f"Ruby raised {reply['error']} running {code!r}\n{trace}")
        return reply["value"]

    def stop(self) -> None:
        stdin = self.child.process.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()  # end of input: the console's loop ends and Ruby exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.process.wait(10)
        self.child.stop()
