<?php
// A small app sending one message with Symfony Mailer (Debian's php-symfony-mailer 5.4) from a MAILER_DSN
// built from $CLIENT_JOB (JSON: host, port, tls, verify, user, timeout, debug); password from $CLIENT_PASSWORD.
// The CA is PHP's own (php -d openssl.cafile=...). debug 0: the exception is not caught (PHP prints it as an
// app's log shows an uncaught exception); debug 1: caught, and its message and getDebug() (the SMTP
// transcript Symfony keeps) printed, as the profiler or a log line shows them.
// Written for tests/corpus/explain/capture3.py.
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';
require_once '/usr/share/php/Symfony/Component/Mime/autoload.php';

use Symfony\Component\Mailer\Exception\TransportExceptionInterface;
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Email;

$job = json_decode(getenv('CLIENT_JOB'), true);
$auth = $job['user'] ? rawurlencode($job['user']) . ':' . rawurlencode(getenv('CLIENT_PASSWORD')) . '@' : '';
$dsn = ($job['tls'] === 'implicit' ? 'smtps' : 'smtp') . "://{$auth}{$job['host']}:{$job['port']}"
    . (($job['verify'] ?? true) ? '' : '?verify_peer=0');
$transport = Transport::fromDsn($dsn);
$transport->getStream()->setTimeout($job['timeout']);
$email = (new Email())->from($job['sender'])->to($job['recipient'])->subject('corpus')->text('corpus');
if ($job['debug']) {
    try {
        (new Mailer($transport))->send($email);
    } catch (TransportExceptionInterface $e) {
        echo 'Mailer error: ', $e->getMessage(), PHP_EOL, $e->getDebug(), PHP_EOL;
        exit(1);
    }
} else {
    (new Mailer($transport))->send($email);
}
echo "sent\n";
