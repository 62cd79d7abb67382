"use strict";
// The page of `scaffold ui`: a form built from the schema (so a new task, metric,
// feature or data kind appears here without a change), and a file tree and code
// pane that follow the form. Every API call carries the run's token in a header.

const token = document.querySelector('meta[name="scaffold-token"]').content;
const byId = (id) => document.getElementById(id);

let schema = null; // the registry and the starting options (as GET /api/schema)
let viewing = { diff: null, path: null }; // the code pane: a file, or a diff (path "" = all)
let lastPlan = null; // in update mode, the plan of the last /api/render answer
let lastView = null; // the last /api/render answer
let lastFiles = null; // the file list of the last render, to mark what a change adds
let lastOptions = null; // the options of that render, as JSON
let added = new Set(); // files the last change of options added
let latest = 0; // number of the last refresh: a slower, older answer is dropped
let problem = null; // why the chosen options cannot be rendered, or null
let busy = false; // an action is under way

async function call(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "X-Scaffold-Token": token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.ok && response.headers.get("Content-Type") === "application/zip") {
    return response.blob();
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

// An element with attributes (false or null: left out; "text": its text) and children.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

// ---- the form ----

function buildForm() {
  const options = schema.options;
  const updating = schema.mode === "update";
  byId("fields").append(
    el(
      "div",
      { class: "field" },
      el("label", { for: "name", text: "Project name" }),
      el("input", {
        type: "text",
        id: "name",
        name: "name",
        value: options.name,
        autocomplete: "off",
        spellcheck: "false",
        readonly: updating,
        "aria-describedby": "name-hint name-problem",
      }),
      el("p", {
        id: "name-hint",
        class: "hint",
        text: updating
          ? "An update keeps the project's name."
          : "Create writes NAME/ into the folder above (scaffold ui --output-dir).",
      }),
      el("p", { id: "name-problem", class: "problem" }),
    ),
    choices("Task", "task", "radio", schema.tasks, (name) => options.task === name, updating),
    el("div", { id: "task-fields" }),
  );
  taskFields(options);
  const switches = schema.features.filter((spec) => spec.choices.length === 0);
  const isOn = (name) => options[name] === true;
  byId("fields").append(
    choices("Adds files", "feature", "checkbox", switches.filter((s) => s.render_time), isOn),
    choices(
      "Decided when it runs (recorded only)",
      "feature",
      "checkbox",
      switches.filter((s) => !s.render_time),
      isOn,
    ),
  );
  for (const spec of schema.features.filter((s) => s.choices.length > 0)) {
    const id = `choice-${spec.name}`;
    const select = el("select", { id, name: spec.name, "aria-describedby": `${id}-summary` });
    for (const value of spec.choices) {
      select.append(el("option", { value, selected: value === options[spec.name], text: value }));
    }
    byId("fields").append(
      el(
        "div",
        { class: "field", title: spec.why },
        el("label", { for: id, text: spec.name }),
        select,
        el("p", { id: `${id}-summary`, class: "hint", text: spec.summary }),
      ),
    );
  }
}

// The data kinds and metrics of the options' task, those of `options` chosen.
function taskFields(options) {
  const data = schema.data.filter((kind) => kind.task === options.task);
  const metrics = schema.metrics.filter((spec) => spec.tasks.includes(options.task));
  byId("task-fields").replaceChildren(
    choices("Data", "data", "radio", data, (name) => options.data === name),
    choices("Metrics", "metrics", "checkbox", metrics, (name) => options.metrics.includes(name)),
  );
}

// Another task takes its own data and metrics: its defaults replace the choices.
function onTaskChange(event) {
  if (event.target.name !== "task") return;
  const task = schema.tasks.find((spec) => spec.name === event.target.value);
  taskFields({ task: task.name, data: task.data, metrics: task.metrics });
}

// A fieldset of radio buttons or checkboxes, each with its one-line summary; a
// disabled one shows a choice that cannot change.
function choices(legend, name, type, specs, isOn, disabled = false) {
  const set = el("fieldset", { disabled }, el("legend", { text: legend }));
  for (const spec of specs) {
    const id = `${name}-${spec.name}`;
    const input = el("input", {
      type,
      id,
      name,
      value: spec.name,
      checked: isOn(spec.name),
      "aria-describedby": `${id}-summary`,
    });
    set.append(
      el(
        "label",
        { class: "choice", for: id, title: spec.why || null },
        input,
        el("span", { class: "name", text: spec.name }),
        el("span", { class: "summary", id: `${id}-summary`, text: spec.summary }),
      ),
    );
  }
  return set;
}

function chosenOptions() {
  const form = byId("options");
  const options = {
    name: byId("name").value,
    task: form.querySelector('input[name="task"]:checked').value,
    data: form.querySelector('input[name="data"]:checked').value,
    metrics: [...form.querySelectorAll('input[name="metrics"]:checked')].map((i) => i.value),
  };
  for (const spec of schema.features) {
    options[spec.name] = spec.choices.length
      ? byId(`choice-${spec.name}`).value
      : byId(`feature-${spec.name}`).checked;
  }
  return options;
}

// ---- the preview ----

async function refresh() {
  const number = ++latest;
  const options = chosenOptions();
  const view = await call("/api/render", { options, path: viewing.path }).catch((error) => error);
  if (number !== latest) return;
  show(view, options);
}

// A /api/render answer: the tree, the code pane and, in update mode, the plan.
function show(view, options) {
  if (view instanceof Error) {
    showProblem(view.message);
    return;
  }
  showProblem(null);
  const optionsJson = JSON.stringify(options);
  if (optionsJson !== lastOptions) {
    markChanges(view.files.map((file) => file.path), options.name);
    lastOptions = optionsJson;
  }
  lastView = view;
  showTree(view.files, view.path, options.name);
  if (schema.mode === "update") showPlan(view.plan ?? new Error(view.plan_error));
  if (viewing.diff !== null && lastPlan && diffText(viewing.diff) !== null) {
    showDiff(viewing.diff);
  } else {
    viewing = { diff: null, path: view.path };
    showFile(view);
  }
}

// The chosen file; in update mode as the project would hold it after the update.
function showFile(view) {
  byId("viewer-label").textContent = view.label ?? "";
  showCode(view.path, view.text, false);
  showToggle(diffText(view.path) !== null ? "Show what update changes" : null);
}

// The button that switches the code pane between a file and its diff.
function showToggle(label) {
  const toggle = byId("diff-toggle");
  toggle.hidden = label === null;
  toggle.textContent = label ?? "";
}

function flipView() {
  if (viewing.diff === null) showDiff(viewing.path);
  else if (lastView) {
    viewing = { diff: null, path: lastView.path };
    showFile(lastView);
    for (const button of byId("report").querySelectorAll(".file")) {
      button.setAttribute("aria-current", "false");
    }
  }
}

function showProblem(message) {
  problem = message;
  const aboutName = message !== null && message.startsWith("project name");
  // A bad name is told beside the name; any other problem at the top.
  byId("name-problem").textContent = aboutName ? message : "";
  byId("status").textContent = aboutName ? "" : (message ?? "");
  byId("status").classList.toggle("error", message !== null);
  syncButtons();
}

function syncButtons() {
  const blocked = busy || problem !== null;
  byId("create").disabled = blocked;
  byId("download").disabled = blocked;
  byId("update").disabled = blocked || lastPlan === null || lastPlan.up_to_date;
}

// Which files the last change of options added or removed (not a rename).
function markChanges(paths, name) {
  const before = lastFiles;
  const renamed = before !== null && lastOptions && JSON.parse(lastOptions).name !== name;
  lastFiles = paths;
  if (before === null || renamed) {
    added = new Set();
    byId("tree-changes").textContent = "";
    return;
  }
  added = new Set(paths.filter((path) => !before.includes(path)));
  const removed = before.filter((path) => !paths.includes(path));
  const parts = [];
  if (added.size) parts.push(`${added.size} added`);
  if (removed.length) parts.push(`${removed.length} removed (${removed.join(", ")})`);
  byId("tree-changes").textContent = parts.length ? `Last change: ${parts.join(", ")}` : "";
}

function showTree(files, selected, packageName) {
  const focused = document.activeElement?.closest?.("#tree") ? document.activeElement.dataset.path : null;
  const root = { folders: new Map(), files: [] };
  for (const { path } of files) {
    let node = root;
    for (const part of path.split("/").slice(0, -1)) {
      if (!node.folders.has(part)) node.folders.set(part, { folders: new Map(), files: [] });
      node = node.folders.get(part);
    }
    node.files.push(path);
  }
  byId("tree").replaceChildren(...treeItems(root, selected, packageName));
  byId("file-count").textContent = `(${files.length})`;
  if (focused) byId("tree").querySelector(`[data-path="${CSS.escape(focused)}"]`)?.focus();
}

// Folders first, the package's before the others; then files, in render order.
function treeItems(node, selected, first) {
  const items = [];
  const rank = ([name]) => (name === first ? "" : name);
  const folders = [...node.folders.entries()].sort((a, b) => rank(a).localeCompare(rank(b)));
  for (const [name, child] of folders) {
    items.push(el("li", {}, el("span", { class: "folder", text: `${name}/` }), el("ul", {}, ...treeItems(child, selected, first))));
  }
  for (const path of node.files) {
    const current = path === selected && viewing.diff === null;
    const button = fileButton(path, path.split("/").pop(), current, () => {
      viewing = { diff: null, path };
      refresh();
    });
    button.classList.toggle("added", added.has(path));
    items.push(el("li", {}, button));
  }
  return items;
}

function fileButton(path, label, current, onClick) {
  const button = el("button", {
    type: "button",
    class: "file",
    "data-path": path,
    "aria-current": current ? "true" : false,
    text: label,
  });
  button.addEventListener("click", onClick);
  return button;
}

function showCode(title, text, isDiff) {
  byId("viewer-title").textContent = title;
  const code = byId("code");
  code.classList.toggle("diff", isDiff);
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  code.replaceChildren(...lines.map((line) => el("span", { class: `line ${isDiff ? diffClass(line) : ""}`, text: line })));
}

function diffClass(line) {
  if (line.startsWith("+++") || line.startsWith("---")) return "head";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  return "";
}

// ---- update mode: what `scaffold update` would do ----

function showPlan(plan) {
  byId("changes").hidden = false;
  const summary = byId("plan-summary");
  const report = byId("report");
  report.replaceChildren();
  if (plan instanceof Error) {
    lastPlan = null;
    summary.textContent = plan.message;
    summary.classList.add("error");
    syncButtons();
    return;
  }
  lastPlan = plan;
  summary.classList.remove("error");
  summary.textContent = plan.up_to_date ? "Already up to date: update would change nothing." : `${plan.summary}.`;
  syncButtons();
  if (plan.diff) {
    const whole = el("button", { type: "button", id: "whole-diff", text: "Show the whole diff" });
    whole.addEventListener("click", () => showDiff(""));
    report.append(whole);
  }
  for (const group of plan.report) {
    const list = el("ul");
    for (const file of group.files) {
      const label = file.target === file.path ? file.path : `${file.path} → ${file.target}`;
      list.append(el("li", {}, fileButton(file.target, label, viewing.diff === file.target, () => showDiff(file.target))));
    }
    report.append(
      el("h3", { class: `action-${group.action}`, text: group.action }),
      el("p", { class: "meaning", text: group.meaning }),
      list,
    );
  }
}

// The diff of one file (its target path), or of all ("").
function diffText(path) {
  if (!lastPlan) return null;
  if (path === "") return lastPlan.diff || null;
  return lastPlan.diffs[path] ?? null;
}

function showDiff(path) {
  const text = diffText(path);
  if (text === null) return;
  viewing = { diff: path, path: viewing.path };
  byId("viewer-label").textContent = "what update changes: your files now (-) and after (+)";
  showCode(path === "" ? "What update changes (scaffold diff)" : `diff: ${path}`, text, true);
  showToggle(lastView ? "Show the file" : null);
  for (const button of byId("report").querySelectorAll(".file")) {
    button.setAttribute("aria-current", String(button.dataset.path === path));
  }
}

// ---- the actions ----

async function act(work) {
  const result = byId("result");
  busy = true;
  syncButtons();
  result.classList.remove("error");
  result.replaceChildren(el("p", { text: "Working…" }));
  try {
    result.replaceChildren(...(await work()).map((line) => el("p", {}, ...[line].flat())));
  } catch (error) {
    result.classList.add("error");
    result.replaceChildren(el("p", { text: error.message }));
  } finally {
    busy = false;
    syncButtons();
  }
}

async function create() {
  const answer = await call("/api/create", { options: chosenOptions() });
  return [...answer.notes, answer.message, ["Train it: ", el("code", { text: answer.train })]];
}

async function update() {
  const answer = await call("/api/update", { options: chosenOptions() });
  await refresh();
  const lines = [...answer.notes, answer.message || "Already up to date."];
  for (const group of answer.report) lines.push(`${group.action}: ${group.files.map((f) => f.target).join(", ")}`);
  if (answer.conflict_message) {
    lines.push(el("strong", { class: "error", text: answer.conflict_message }));
  }
  return lines;
}

async function download() {
  const options = chosenOptions();
  const blob = await call("/api/download", { options });
  const link = el("a", { href: URL.createObjectURL(blob), download: `${options.name}.zip` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  return [`Downloaded ${options.name}.zip (${options.name}/ inside).`];
}

async function start() {
  // Served inside the page, so that the first paint shows the form, the tree and
  // the code without waiting for another request.
  const initial = JSON.parse(byId("initial").textContent);
  schema = initial.schema;
  const updating = schema.mode === "update";
  byId("where").replaceChildren(
    updating ? "Updating " : "New project in ",
    el("code", { text: updating ? schema.project : schema.output_dir }),
  );
  buildForm();
  byId(updating ? "update" : "create").hidden = false;
  byId("create").addEventListener("click", () => act(create));
  byId("update").addEventListener("click", () => act(update));
  byId("download").addEventListener("click", () => act(download));
  byId("diff-toggle").addEventListener("click", flipView);
  const form = byId("options");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("change", onTaskChange);
  form.addEventListener("change", refresh);
  let typing = null;
  byId("name").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(refresh, 150);
  });
  if (initial.view) show(initial.view, chosenOptions());
  else await refresh();
}

start();
