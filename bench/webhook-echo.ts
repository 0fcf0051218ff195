import { readFileSync } from 'node:fs';
import https from 'node:https';

/**
 * Figure 11's floor: a bare node:https server (TLS 1.2+, the webhook's certificate) that reads each request body whole
 * and answers a fixed AdmissionReview-sized response, with nothing parsed or checked. Run as its own process, as the
 * webhook is: `node webhook-echo.js CERT KEY PORT RESPONSE_FILE`; prints `listening` when ready.
 */
const [cert, key, port, responseFile] = process.argv.slice(2) as [string, string, string, string];
const response = readFileSync(responseFile);
const server = https.createServer(
  { cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' },
  (req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': response.length });
      res.end(response);
    });
  },
);
server.keepAliveTimeout = 30_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
