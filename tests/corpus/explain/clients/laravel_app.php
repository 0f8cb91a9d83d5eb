<?php
// A small app sending one message through Laravel 8's mail stack (Debian's php-laravel-framework 8.83:
// Illuminate\Mail's MailManager + Mailer over SwiftMailer 6), config/mail.php's 'smtp' mailer built from
// $CLIENT_JOB (JSON: host, port, tls, verify, user, timeout); password from $CLIENT_PASSWORD. The CA is PHP's
// own (php -d openssl.cafile=...). The exception is not caught: PHP prints it as an app's log shows it. Only
// the view factory is a stand-in (Mail::raw renders no view). Written for tests/corpus/explain/capture3.py.
require_once '/usr/share/php/Illuminate/autoload.php';

use Illuminate\Config\Repository;
use Illuminate\Foundation\Application;
use Illuminate\Mail\MailServiceProvider;

$job = json_decode(getenv('CLIENT_JOB'), true);
$view = new class implements Illuminate\Contracts\View\Factory {
    public function exists($view) { return false; }
    public function file($path, $data = [], $mergeData = []) { throw new LogicException('no views here'); }
    public function make($view, $data = [], $mergeData = []) { throw new LogicException('no views here'); }
    public function share($key, $value = null) { return $value; }
    public function composer($views, $callback) { return []; }
    public function creator($views, $callback) { return []; }
    public function addNamespace($namespace, $hints) { return $this; }
    public function replaceNamespace($namespace, $hints) { return $this; }
};
$smtp = ['transport' => 'smtp', 'host' => $job['host'], 'port' => $job['port'],
         'encryption' => ['implicit' => 'ssl', 'starttls' => 'tls'][$job['tls']] ?? null,
         'username' => $job['user'] ?: null, 'password' => $job['user'] ? getenv('CLIENT_PASSWORD') : null,
         'timeout' => $job['timeout'], 'auth_mode' => null];
if (!($job['verify'] ?? true)) {
    $smtp['stream'] = ['ssl' => ['allow_self_signed' => true, 'verify_peer' => false, 'verify_peer_name' => false]];
}
$app = new Application(getcwd());
$app->instance('config', new Repository(['mail' => [
    'default' => 'smtp', 'mailers' => ['smtp' => $smtp],
    'from' => ['address' => $job['sender'], 'name' => 'Shop'],
]]));
$app->instance('view', $view);
$app->register(MailServiceProvider::class);
$app['mailer']->raw('corpus', function ($message) use ($job) {
    $message->to($job['recipient'])->subject('corpus');
});
echo "sent\n";
