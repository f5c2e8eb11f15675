// A SigV4-checking front for s3rver, which parses SigV4 headers but does not
// check the signature (its authentication middleware says "Signature version
// 4 calculation is unimplemented").  Every request must carry a valid
// AWS4-HMAC-SHA256 Authorization header for a known key, an x-amz-date within
// 15 minutes, and an x-amz-content-sha256 equal to the body's SHA-256 (or
// UNSIGNED-PAYLOAD); otherwise the answer is 403 SignatureDoesNotMatch (or the
// matching S3 error) and the request never reaches s3rver.  Good requests are
// forwarded unchanged.  One line per request goes to the log file.
//
// S3 replaces an object atomically and honours `If-None-Match: *` on PUT (a
// conditional write: 412 PreconditionFailed when the key exists); s3rver
// writes objects in place (a GET beside a PUT of the same key can fail) and
// ignores If-None-Match.  So the proxy takes the requests on one key one at
// a time, and answers a conditional PUT of an existing key with 412 itself.
//
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const [listenPort, backendPort, logFile, ...pairs] = process.argv.slice(2);
const keys = new Map(pairs.map(p => { const i = p.indexOf(':'); return [p.slice(0, i), p.slice(i + 1)]; }));
const log = fs.createWriteStream(logFile, { flags: 'a' });

const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

// RFC 3986 encoding as AWS wants it (unreserved characters kept)
function awsEncode(s, keepSlash) {
  return Array.from(Buffer.from(s, 'utf8')).map(c => {
    const ch = String.fromCharCode(c);
    if (/[A-Za-z0-9\-_.~]/.test(ch) || (keepSlash && ch === '/')) return ch;
    return '%' + c.toString(16).toUpperCase().padStart(2, '0');
  }).join('');
}

function canonicalQuery(q) {
  if (!q) return '';
  return q.split('&').filter(Boolean).map(kv => {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, '%20'));
    return [awsEncode(k), awsEncode(v)];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => k + '=' + v).join('&');
}

function deny(res, status, code, msg) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${msg}</Message></Error>`);
}

function check(req, body) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return ['AccessDenied', 'no or malformed AWS4-HMAC-SHA256 Authorization header'];
  const [, ak, day, region, signed, sig] = m;
  const secret = keys.get(ak);
  if (secret === undefined) return ['InvalidAccessKeyId', 'unknown access key ' + ak];
  const date = req.headers['x-amz-date'] || '';
  if (!/^\d{8}T\d{6}Z$/.test(date) || date.slice(0, 8) !== day) return ['AccessDenied', 'bad x-amz-date'];
  const t = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8), +date.slice(9, 11), +date.slice(11, 13), +date.slice(13, 15));
  if (Math.abs(Date.now() - t) > 15 * 60 * 1000) return ['RequestTimeTooSkewed', 'x-amz-date too far from now'];
  const payload = req.headers['x-amz-content-sha256'];
  if (!payload) return ['InvalidRequest', 'missing x-amz-content-sha256'];
  if (payload !== 'UNSIGNED-PAYLOAD' && payload !== sha256(body)) return ['XAmzContentSHA256Mismatch', 'body does not match x-amz-content-sha256'];
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return ['AccessDenied', 'host and x-amz-date must be signed'];
  const raw = req.url;
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  const canonUri = awsEncode(decodeURIComponent(path), true);
  const headerLines = names.map(n => {
    const v = req.headers[n];
    if (v === undefined) return null;
    return n + ':' + String(v).trim().replace(/\s+/g, ' ');
  });
  if (headerLines.includes(null)) return ['AccessDenied', 'a signed header is missing'];
  const canonical = [req.method, canonUri, canonicalQuery(qi < 0 ? '' : raw.slice(qi + 1)),
    headerLines.join('\n') + '\n', signed, payload].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', date, scope, sha256(canonical)].join('\n');
  let k = hmac('AWS4' + secret, day);
  k = hmac(k, region);
  k = hmac(k, 's3');
  k = hmac(k, 'aws4_request');
  const want = crypto.createHmac('sha256', k).update(sts).digest('hex');
  if (!crypto.timingSafeEqual(Buffer.from(want), Buffer.from(sig))) return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided'];
  return null;
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const bad = check(req, body);
    const lock = req.headers['x-amz-object-lock-mode'] ? ' x-amz-object-lock-mode=' + req.headers['x-amz-object-lock-mode'] : '';
    log.write(`${req.method} ${req.url} ${body.length}${lock} ${bad ? bad[0] : 'ok'}\n`);
    if (bad) return deny(res, bad[0] === 'InvalidRequest' ? 400 : 403, bad[0], bad[1]);
    const forward = done => {
      const up = http.request({ host: '127.0.0.1', port: +backendPort, method: req.method, path: req.url, headers: req.headers }, r => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
        r.on('end', done);
        r.on('error', done);
        res.on('close', done);
      });
      up.on('error', e => { deny(res, 502, 'BadGateway', String(e)); done(); });
      up.end(body);
    };
    const key = req.url.split('?')[0];
    if (key.split('/').filter(Boolean).length < 2) return forward(() => {}); // the bucket: listings
    one_at_a_time(key, done => {
      if (req.method !== 'PUT' || req.headers['if-none-match'] !== '*' || req.url.includes('?')) return forward(done);
      const head = http.request({ host: '127.0.0.1', port: +backendPort, method: 'HEAD', path: key, headers: { host: req.headers.host } }, r => {
        r.resume();
        if (r.statusCode === 200) {
          log.write(`PUT ${req.url} If-None-Match PreconditionFailed\n`);
          deny(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          return done();
        }
        forward(done);
      });
      head.on('error', e => { deny(res, 502, 'BadGateway', String(e)); done(); });
      head.end();
    });
  });
}).listen(+listenPort, '127.0.0.1');

// the requests on one key, one at a time
const queues = new Map();
function one_at_a_time(key, task) {
  const prev = queues.get(key) || Promise.resolve();
  const next = prev.then(() => new Promise(resolve => task(resolve)));
  queues.set(key, next);
  next.then(() => { if (queues.get(key) === next) queues.delete(key); });
}
