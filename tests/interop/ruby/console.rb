# A Ruby console for the interop tests: one Ruby process per test module, driven
# from Python over stdin/stdout, so each test runs Ruby snippets without paying
# Ruby's start-up again.
#
# Request:  one JSON object per line, {"code": "<Ruby source>"}
# Response: one JSON object per line, {"value": <the value, as JSON>} or
#           {"error": "<Class>: <message>", "backtrace": [...]}
#
# Sidekiq reads REDIS_URL from the environment, as in any Sidekiq deployment.

require "json"
require "sidekiq"
require "sidekiq/api"
require_relative "snapshots"

# redis-rb 4.8 warns about return values that change in 5.0 on every SADD Sidekiq sends;
# the warnings would drown the console's log and say nothing about interop.
Redis.silence_deprecations = true if Redis.respond_to?(:silence_deprecations=)

# Replies own stdout; anything else Ruby prints (puts in a snippet, Sidekiq's logger,
# library warnings) goes to stderr, the console's log, and cannot break the protocol.
replies = $stdout
replies.sync = true
$stdout = $stderr
Sidekiq.logger = Sidekiq::Logger.new($stderr)
console = binding

while (line = $stdin.gets)
  begin
    request = JSON.parse(line)
    value = console.eval(request.fetch("code"), "(interop test)")
    reply = {"value" => value}
  rescue Exception => e # rubocop:disable Lint/RescueException -- report everything to the test
    reply = {"error" => "#{e.class}: #{e.message}", "backtrace" => Array(e.backtrace).first(8)}
  end
  begin
    replies.puts(JSON.generate(reply))
  rescue JSON::GeneratorError, Encoding::UndefinedConversionError => e
    replies.puts(JSON.generate({"error" => "reply is not JSON: #{e.message}"}))
  end
end
