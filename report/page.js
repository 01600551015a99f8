(function () {
  'use strict';
  // Timeline table of the evtxscan report. Data comes from the JSON blocks
  // evx-tables, evx-events and evx-rules; every value reaches the page via
  // textContent or a DOM property, never as markup.
  var doc = document;
  var started = Date.now();
  var $ = function (id) { return doc.getElementById(id); };
  function readJSON(id, dflt) {
    var el = $(id);
    if (!el) { return dflt; }
    try { return JSON.parse(el.textContent); } catch (e) { return dflt; }
  }
  var T = readJSON('evx-tables', { computers: [], channels: [], providers: [], levels: [], files: [] });
  var E = readJSON('evx-events', []);
  var R = readJSON('evx-rules', { rules: [], events: {} });
  // Row layout: [time, computer, channel, provider, id, level, details, record, file];
  // computer, channel, provider, level and file are table indexes or strings.
  var TABLE = [null, 'computers', 'channels', 'providers', null, 'levels', null, null, 'files'];
  function field(row, i) {
    var v = row[i];
    var t = TABLE[i];
    if (t && typeof v === 'number') { return T[t][v] === undefined ? '' : T[t][v]; }
    return v === null || v === undefined ? '' : v;
  }
  var evRules = {};
  Object.keys(R.events || {}).forEach(function (k) { evRules[k] = R.events[k]; });
  function rulesOf(i) {
    var l = evRules[i];
    if (!l) { return ''; }
    return l.map(function (r) { return R.rules[r]; }).join(', ');
  }
  function basename(p) { var m = /[^\\/!]*$/.exec(String(p)); return m ? m[0] : p; }
  // cell returns what column c shows for event i.
  function cell(i, c) {
    var row = E[i];
    switch (c) {
      case 0: return row[0];
      case 1: return field(row, 1);
      case 2: return field(row, 2);
      case 3: return field(row, 3);
      case 4: return String(row[4]);
      case 5: return field(row, 5);
      case 6: return row[6];
      case 7: return rulesOf(i);
      case 8: return String(row[7]);
      case 9: return basename(field(row, 8));
    }
    return '';
  }
  var haystack = null;
  function hay(i) {
    if (!haystack) { haystack = new Array(E.length); }
    var h = haystack[i];
    if (h === undefined) {
      var row = E[i];
      h = [row[0], field(row, 1), field(row, 2), field(row, 3), row[4], field(row, 5), row[6], rulesOf(i), row[7], field(row, 8)].join('\u0001').toLowerCase();
      haystack[i] = h;
    }
    return h;
  }

  // Levels sort by severity, not by name.
  var LEVELS = { Critical: 1, Error: 2, Warning: 3, Information: 4, Verbose: 5 };
  function levelRank(name) { return LEVELS[name] || 6; }

  var state = { q: '', level: '', rule: '', computer: '', sort: 0, dir: 1, page: 0, size: 100 };
  var view = [];

  function parseQuery(q) {
    var terms = [];
    String(q).toLowerCase().split(/\s+/).forEach(function (w) {
      if (!w) { return; }
      var m = /^(record|id):(\d+)$/.exec(w);
      if (m) { terms.push({ col: m[1] === 'record' ? 7 : 4, num: Number(m[2]) }); return; }
      terms.push({ text: w });
    });
    return terms;
  }

  function compute() {
    var terms = parseQuery(state.q);
    var lvl = state.level, comp = state.computer, rule = state.rule;
    var ruleIdx = rule && rule !== '*' ? R.rules.indexOf(rule) : -1;
    var out = [];
    for (var i = 0; i < E.length; i++) {
      var row = E[i];
      if (lvl && field(row, 5) !== lvl) { continue; }
      if (comp && field(row, 1) !== comp) { continue; }
      if (rule) {
        var l = evRules[i];
        if (!l) { continue; }
        if (rule !== '*' && l.indexOf(ruleIdx) < 0) { continue; }
      }
      var ok = true;
      for (var k = 0; k < terms.length && ok; k++) {
        var t = terms[k];
        if (t.num !== undefined) { ok = Number(row[t.col]) === t.num; } else { ok = hay(i).indexOf(t.text) >= 0; }
      }
      if (ok) { out.push(i); }
    }
    var c = state.sort, dir = state.dir;
    if (c !== 0 || dir !== 1) {
      var numeric = c === 4 || c === 8;
      out.sort(function (a, b) {
        var d;
        if (c === 0) { d = a - b; } else if (numeric) { d = Number(cell(a, c)) - Number(cell(b, c)); } else if (c === 5) {
          d = levelRank(cell(a, 5)) - levelRank(cell(b, 5));
        } else {
          var x = cell(a, c), y = cell(b, c);
          d = x < y ? -1 : x > y ? 1 : 0;
        }
        return (d || a - b) * dir;
      });
    }
    view = out;
  }

  var tbody = $('t-body'), table = $('t-table');
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    var from = state.page * state.size, to = Math.min(view.length, from + state.size);
    var frag = doc.createDocumentFragment();
    for (var n = from; n < to; n++) {
      var i = view[n];
      var tr = doc.createElement('tr');
      tr.className = 'lv-' + String(field(E[i], 5)).replace(/[^A-Za-z]/g, '') + (evRules[i] ? ' hit' : '');
      tr.setAttribute('data-index', String(i));
      for (var c = 0; c < 10; c++) {
        var td = doc.createElement('td');
        var text = cell(i, c);
        td.textContent = text;
        if (c === 6 || c === 9 || c === 7) { td.title = c === 9 ? field(E[i], 8) : text; }
        if (c === 4 || c === 8) { td.className = 'num'; }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    tbody.textContent = '';
    tbody.appendChild(frag);
    var info = view.length ? (from + 1) + '–' + to + ' of ' + view.length : 'no events match';
    $('p-info').textContent = info + ' · page ' + (state.page + 1) + ' of ' + pages;
    $('p-first').disabled = $('p-prev').disabled = state.page === 0;
    $('p-next').disabled = $('p-last').disabled = state.page >= pages - 1;
    $('t-status').textContent = view.length + ' of ' + E.length + ' events match';
    table.setAttribute('data-total', String(E.length));
    table.setAttribute('data-matched', String(view.length));
    table.setAttribute('data-page', String(state.page + 1));
    var ths = table.querySelectorAll('th[data-col]');
    for (var h = 0; h < ths.length; h++) {
      var col = Number(ths[h].getAttribute('data-col'));
      if (col === state.sort) { ths[h].setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending'); } else { ths[h].removeAttribute('aria-sort'); }
    }
  }
  function update() { compute(); render(); }

  function fillSelect(sel, values) {
    var seen = {};
    values.slice().sort().forEach(function (v) {
      if (v === '' || seen[v]) { return; }
      seen[v] = true;
      var o = doc.createElement('option');
      o.value = v;
      o.textContent = v;
      sel.appendChild(o);
    });
  }
  var fText = $('f-text'), fLevel = $('f-level'), fRule = $('f-rule'), fComp = $('f-computer');
  fillSelect(fLevel, T.levels || []);
  fillSelect(fRule, R.rules || []);
  fillSelect(fComp, T.computers || []);

  function syncControls() {
    fText.value = state.q;
    fLevel.value = state.level;
    fRule.value = state.rule;
    fComp.value = state.computer;
  }
  // The hash presets the filter, so a link can open the page on a view:
  // #q=words&level=Error&rule=rule_id&computer=NAME&page=2&sort=8&desc=1
  // (sort: column number from 0 = Time to 9 = File).
  function fromHash() {
    var h = location.hash.replace(/^#/, '');
    if (h.indexOf('=') < 0) { return false; }
    var p = {};
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i < 0) { return; }
      try { p[kv.slice(0, i)] = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' ')); } catch (e) { /* ignore malformed */ }
    });
    state.q = p.q || '';
    state.level = p.level || '';
    state.rule = p.rule || '';
    state.computer = p.computer || '';
    state.page = p.page ? Math.max(0, Number(p.page) - 1 || 0) : 0;
    var col = Number(p.sort);
    state.sort = col >= 0 && col <= 9 ? col : 0;
    state.dir = p.desc === '1' ? -1 : 1;
    syncControls();
    return true;
  }

  var timer = 0;
  fText.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.q = fText.value; state.page = 0; update(); }, 200);
  });
  fLevel.addEventListener('change', function () { state.level = fLevel.value; state.page = 0; update(); });
  fRule.addEventListener('change', function () { state.rule = fRule.value; state.page = 0; update(); });
  fComp.addEventListener('change', function () { state.computer = fComp.value; state.page = 0; update(); });
  $('f-clear').addEventListener('click', function () {
    state.q = state.level = state.rule = state.computer = '';
    state.page = 0; syncControls(); update();
  });
  $('p-first').addEventListener('click', function () { state.page = 0; render(); });
  $('p-prev').addEventListener('click', function () { state.page--; render(); });
  $('p-next').addEventListener('click', function () { state.page++; render(); });
  $('p-last').addEventListener('click', function () { state.page = 1e9; render(); });
  $('p-size').addEventListener('change', function () { state.size = Number($('p-size').value) || 100; state.page = 0; render(); });
  table.querySelector('thead').addEventListener('click', function (e) {
    var th = e.target.closest('th[data-col]');
    if (!th) { return; }
    var c = Number(th.getAttribute('data-col'));
    if (state.sort === c) { state.dir = -state.dir; } else { state.sort = c; state.dir = 1; }
    update();
  });
  tbody.addEventListener('click', function (e) {
    var tr = e.target.closest('tr');
    if (tr) { tr.classList.toggle('open'); }
  });
  window.addEventListener('hashchange', function () {
    if (fromHash()) { update(); $('timeline').scrollIntoView(); }
  });
  // Printing shows every finding and session expanded.
  window.addEventListener('beforeprint', function () {
    var d = doc.querySelectorAll('details');
    for (var i = 0; i < d.length; i++) { d[i].open = true; }
  });

  var preset = fromHash();
  update();
  if (preset) { $('timeline').scrollIntoView(); } // a shared link opens on its view
  // Test hooks: a browser test reads these from the DOM.
  doc.documentElement.setAttribute('data-evx-ready', '1');
  doc.documentElement.setAttribute('data-evx-init-ms', String(Date.now() - started));
  doc.documentElement.setAttribute('data-evx-css', getComputedStyle(doc.body).backgroundColor);
  // The canary is read again after a second, once failed image loads
  // would have fired their error handlers.
  doc.documentElement.setAttribute('data-evx-xss', typeof window.__xss);
  setTimeout(function () { doc.documentElement.setAttribute('data-evx-xss', typeof window.__xss); }, 1000);
})();
