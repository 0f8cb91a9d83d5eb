<?php
// A small app sending one message with PHPMailer (Debian's libphp-phpmailer), from $CLIENT_JOB (JSON;
// debug = SMTPDebug 0..4, printed as PHPMailer prints it); password from $CLIENT_PASSWORD. On failure it
// prints ErrorInfo as apps do. Written for tests/corpus/explain/capture.py.
require '/usr/share/php/libphp-phpmailer/autoload.php';
use PHPMailer\PHPMailer\PHPMailer;

$job = json_decode(getenv('CLIENT_JOB'), true);
$mail = new PHPMailer(true);
$mail->isSMTP();
$mail->SMTPDebug = $job['debug'];
$mail->Debugoutput = 'echo';
$mail->Host = $job['host'];
$mail->Port = $job['port'];
$mail->Timeout = $job['timeout'];
$mail->SMTPSecure = $job['tls'] === 'implicit' ? PHPMailer::ENCRYPTION_SMTPS : ($job['tls'] === 'starttls' ? PHPMailer::ENCRYPTION_STARTTLS : '');
$mail->SMTPAutoTLS = $job['tls'] !== 'none';
$ssl = ['verify_peer' => $job['verify'] ?? true, 'verify_peer_name' => $job['verify'] ?? true];
if ($job['ca_file']) { $ssl['cafile'] = $job['ca_file']; }
$mail->SMTPOptions = ['ssl' => $ssl];
if ($job['user']) { $mail->SMTPAuth = true; $mail->Username = $job['user']; $mail->Password = getenv('CLIENT_PASSWORD'); }
$mail->setFrom($job['sender']);
$mail->addAddress($job['recipient']);
$mail->Subject = 'corpus';
$mail->Body = 'corpus';
try {
    $mail->send();
    echo "sent\n";
} catch (Exception $e) {
    echo "Message could not be sent. Mailer Error: {$mail->ErrorInfo}\n";
    exit(1);
}
