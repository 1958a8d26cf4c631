// A webhook receiver for the chat backend's connections, in Node.
// WEBHOOK_SECRET is the connection's whsec_... secret; PORT the port.
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const wh = new Webhook(process.env.WEBHOOK_SECRET);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8"); // the raw body: verify before parsing
    let data;
    try {
      data = wh.verify(body, req.headers); // checks webhook-id, -timestamp (±5 min), -signature
    } catch (err) {
      res.writeHead(400).end("invalid signature"); // 4xx: not retried
      return;
    }
    console.log(req.headers["webhook-id"], data.email, data.phone_number);
    res.writeHead(204).end(); // any 2xx is a success
  });
});

server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
