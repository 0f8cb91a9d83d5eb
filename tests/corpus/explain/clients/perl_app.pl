#!/usr/bin/perl
# A small Perl script sending one message with Net::SMTP (perl core 3.14, IO::Socket::SSL for TLS), as admin
# scripts do: die with the server's message on the first failure. Configured from $CLIENT_JOB
# (JSON: host, port, tls, ca_file, verify, user, sender, recipient, timeout, debug); password from
# $CLIENT_PASSWORD. Written for tests/corpus/explain/capture3.py.
use strict;
use warnings;
use JSON::PP;
use Net::SMTP;

my $job = decode_json($ENV{CLIENT_JOB});
my %ssl = (SSL_verify_mode => $job->{verify} ? 1 : 0);
$ssl{SSL_ca_file} = $job->{ca_file} if $job->{ca_file};
my $smtp = Net::SMTP->new($job->{host}, Port => $job->{port}, Timeout => $job->{timeout},
                          Debug => $job->{debug}, Hello => 'client.example.test',
                          ($job->{tls} eq 'implicit' ? (SSL => 1, %ssl) : ()))
    or die "Cannot connect to $job->{host}:$job->{port}: $@\n";
if ($job->{tls} eq 'starttls') {
    $smtp->starttls(%ssl) or die "STARTTLS failed: " . ($smtp->message // $IO::Socket::SSL::SSL_ERROR // '') . "\n";
}
if ($job->{user}) {
    $smtp->auth($job->{user}, $ENV{CLIENT_PASSWORD}) or die "SMTP auth failed: " . $smtp->code . " " . $smtp->message;
}
$smtp->mail($job->{sender}) or die "MAIL FROM rejected: " . $smtp->code . " " . $smtp->message;
$smtp->to($job->{recipient}) or die "RCPT TO rejected: " . $smtp->code . " " . $smtp->message;
$smtp->data("From: $job->{sender}\r\nTo: $job->{recipient}\r\nSubject: corpus\r\n\r\ncorpus\r\n")
    or die "DATA failed: " . $smtp->code . " " . $smtp->message;
$smtp->quit;
print "sent\n";
