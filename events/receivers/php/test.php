<?php
// A webhook receiver for the chat backend's connections, in PHP, in the
// style of the connector document's test.php. Install the Standard Webhooks
// library with: composer require standard-webhooks/standard-webhooks
require __DIR__ . '/vendor/autoload.php';

$secret = getenv('WEBHOOK_SECRET'); // the connection's whsec_... secret
$payload = file_get_contents("php://input"); // the raw body: verify before parsing
$headers = [
    'webhook-id' => $_SERVER['HTTP_WEBHOOK_ID'] ?? '',
    'webhook-timestamp' => $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '',
    'webhook-signature' => $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '',
];
try {
    (new \StandardWebhooks\Webhook($secret))->verify($payload, $headers);
} catch (\Exception $e) {
    http_response_code(400); // 4xx: not retried
    exit;
}
$data = json_decode($payload, true);
file_put_contents('php://stderr', $data['email'] . ' ' . $data['phone_number'] . "\n");
http_response_code(204); // any 2xx is a success
