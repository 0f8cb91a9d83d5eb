# Two more Ruby apps for corpus 3, configured from $CLIENT_JOB (JSON; lib "mail" or "net-smtp-debug"),
# password from $CLIENT_PASSWORD; errors are not rescued (Ruby prints message and backtrace):
#   mail: the mail gem directly (Debian's ruby-mail), Mail.defaults { delivery_method :smtp, ... };
#   net-smtp-debug: net-smtp with debug_output = $stderr (its SMTP transcript, then the exception).
# Written for tests/corpus/explain/capture3.py.
require "json"
require "openssl"

job = JSON.parse(ENV.fetch("CLIENT_JOB"))
password = ENV.fetch("CLIENT_PASSWORD")
if job["lib"] == "mail"
  require "mail"
  opts = { address: job["host"], port: job["port"], domain: "client.example.test",
           openssl_verify_mode: job["verify"] ? "peer" : "none",
           open_timeout: job["timeout"], read_timeout: job["timeout"] }
  opts.merge!(user_name: job["user"], password: password, authentication: "plain") unless job["user"].to_s.empty?
  opts[:ca_file] = job["ca_file"] if job["ca_file"]
  case job["tls"]
  when "implicit" then opts[:tls] = true
  when "starttls" then opts[:enable_starttls] = true
  else opts[:enable_starttls_auto] = false
  end
  Mail.defaults { delivery_method :smtp, opts }
  Mail.deliver do
    from job["sender"]
    to job["recipient"]
    subject "corpus"
    body "corpus"
  end
else
  require "net/smtp"
  ctx = OpenSSL::SSL::SSLContext.new
  params = { verify_mode: job["verify"] ? OpenSSL::SSL::VERIFY_PEER : OpenSSL::SSL::VERIFY_NONE }
  params[:ca_file] = job["ca_file"] if job["ca_file"]
  ctx.set_params(params)
  smtp = Net::SMTP.new(job["host"], job["port"])
  smtp.open_timeout = job["timeout"]
  smtp.read_timeout = job["timeout"]
  smtp.debug_output = $stderr
  case job["tls"]
  when "implicit" then smtp.enable_tls(ctx)
  when "starttls" then smtp.enable_starttls(ctx)
  else smtp.disable_starttls
  end
  user = job["user"].to_s.empty? ? nil : job["user"]
  smtp.start("client.example.test", user, user && password, user && :plain) do |s|
    s.send_message("From: #{job["sender"]}\r\nTo: #{job["recipient"]}\r\nSubject: corpus\r\n\r\ncorpus\r\n",
                   job["sender"], job["recipient"])
  end
end
puts "sent"
