// What the server knows about its kernel models: ids and titles, the
// session options and the per-fault injected conditions. Everything comes
// from GET /v1/kernels ({kernels, default, compare_default?, mutants?,
// options?, injections?}); when that answer has no option or injection list,
// their names are read from the SessionCreate and Fault schemas of
// GET /openapi.json. The page names no
// kernel, option or injection itself.
import { api } from './api.js';
import { esc, $, $$ } from './util.js';

export const model = {
  kernels: [],       // [{id, title, summary, …}] in the server's order
  defaultKernel: null,
  options: [],       // [{name, description}]
  injections: [],    // [{name, description}]
  mutants: [],       // [{name, description}] for explore, when the server lists them
  compareDefault: [], // the ids the Compare tab ticks at first (all when the server names none)
  source: { options: '', injections: '' },
};

/** [{name, description}] from a list of names or {name|id, description|summary|title} objects. */
function named(list) {
  if (!Array.isArray(list)) return [];
  return list.map((x) => (typeof x === 'string' ? { name: x, description: '' }
    : { name: x.name ?? x.id, description: x.description ?? x.summary ?? x.title ?? '' })).filter((x) => x.name);
}

/** Union of a per-kernel list (k.options / k.injections), first description wins. */
function perKernel(kernels, key) {
  const seen = new Map();
  for (const k of kernels) for (const o of named(k[key])) if (!seen.has(o.name)) seen.set(o.name, o);
  return [...seen.values()];
}

function schemaProps(doc, schema, path) {
  let s = doc?.components?.schemas?.[schema];
  for (const k of path) s = s?.properties?.[k];
  return Object.entries(s?.properties || {}).map(([name, p]) => ({ name, description: p?.description || '' }));
}

/** Loads the models, options and injections (call once, before rendering the forms). */
export async function loadModel() {
  const d = await api.kernels();
  model.kernels = d.kernels;
  model.defaultKernel = d.default ?? d.kernels[0]?.id ?? null;
  model.options = named(d.options);
  model.injections = named(d.injections);
  model.mutants = named(d.mutants);
  const ids = new Set(d.kernels.map((k) => k.id));
  model.compareDefault = (Array.isArray(d.compare_default) ? d.compare_default : []).filter((id) => ids.has(id));
  if (!model.compareDefault.length) model.compareDefault = d.kernels.map((k) => k.id);
  if (!model.options.length) model.options = perKernel(d.kernels, 'options');
  if (!model.injections.length) model.injections = perKernel(d.kernels, 'injections');
  model.source.options = model.source.injections = 'GET /v1/kernels';
  if (!model.options.length || !model.injections.length) {
    let doc = null;
    try { doc = await api.openapi(); } catch { doc = null; }
    if (!model.options.length) { model.options = schemaProps(doc, 'SessionCreate', ['options']); model.source.options = 'GET /openapi.json'; }
    if (!model.injections.length) { model.injections = schemaProps(doc, 'Fault', ['inject']); model.source.injections = 'GET /openapi.json'; }
  }
  return model;
}

export const kernelById = (id) => model.kernels.find((k) => k.id === id);

function checkbox(prefix, o) {
  const tip = o.description ? ` title="${esc(o.description)}"` : '';
  return `<label class="check"${tip}><input type="checkbox" name="${esc(o.name)}" data-testid="${prefix}-${esc(o.name)}"> ${esc(o.name)}</label>`;
}

/** Fills the session bar's kernel select and option checkboxes, and the fault panel's injections. */
export function renderModelForms() {
  $('#kernel').innerHTML = model.kernels.map((k) => `<option value="${esc(k.id)}" title="${esc(k.summary || '')}"${k.id === model.defaultKernel ? ' selected' : ''}>${esc(k.id)} — ${esc(k.title || '')}</option>`).join('');
  $('#options').innerHTML = model.options.map((o) => checkbox('opt', o)).join('');
  $('#race-mutants').innerHTML = model.mutants.map((m) => `<option value="${esc(m.name)}">${esc(m.description)}</option>`).join('');
  $('#injections').innerHTML = `<legend>Inject</legend>${model.injections.map((o) => checkbox('inj', o)).join('')}`;
}

function checked(root) {
  const out = {};
  for (const i of $$('input[type="checkbox"]', root)) out[i.name] = i.checked;
  return out;
}

/** {option: bool} from the session bar. */
export const sessionOptions = () => checked($('#options'));
/** {injection: bool} from the fault panel. */
export const faultInjections = () => checked($('#injections'));
