// IRIS's analyze and SpendSense's insights from a browser, with no build step.
//
// The API URLs come from the files `pulumi stack output --json` writes: ?iris=<url> and
// ?spendsense=<url> (default outputs/iris.json and outputs/spendsense.json, beside this page),
// or files picked in the page. Every answer is shown with its status, and an error with its
// code, message, X-Request-Id and, for a 429 or 503, when to retry. Nothing the APIs answer is
// written as HTML: text only.

const stacks = { iris: null, spendsense: null };
const NAMES = { iris: "IRIS", spendsense: "SpendSense" };

const $ = (selector) => document.querySelector(selector);

// Which program's outputs these are: IRIS's have analyzeUrl, SpendSense's functionNames.
function kindOf(outputs) {
  if (outputs && typeof outputs.analyzeUrl === "string") return "iris";
  if (outputs && typeof outputs.apiUrl === "string" && typeof outputs.functionNames === "object") {
    return "spendsense";
  }
  return null;
}

function useOutputs(outputs, source) {
  const kind = kindOf(outputs);
  if (kind === null) {
    throw new Error(
      `${source} is not what \`pulumi stack output --json\` writes for IRIS (analyzeUrl) ` +
        "or SpendSense (apiUrl and functionNames)",
    );
  }
  stacks[kind] = { outputs, source };
}

async function fetchOutputs(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
  return response.json();
}

async function loadOutputs() {
  const params = new URLSearchParams(location.search);
  const sources = [
    params.get("iris") ?? "outputs/iris.json",
    params.get("spendsense") ?? "outputs/spendsense.json",
  ];
  const problems = [];
  await Promise.all(
    sources.map(async (url) => {
      try {
        useOutputs(await fetchOutputs(url), url);
      } catch (error) {
        problems.push(error.message);
      }
    }),
  );
  showStacks(problems);
}

async function loadPickedFiles(event) {
  const problems = [];
  for (const file of event.target.files) {
    try {
      useOutputs(JSON.parse(await file.text()), file.name);
    } catch (error) {
      problems.push(`${file.name}: ${error.message}`);
    }
  }
  showStacks(problems);
}

function showStacks(problems) {
  const lines = [];
  for (const [kind, stack] of Object.entries(stacks)) {
    if (stack === null) {
      lines.push(`${NAMES[kind]}: no stack outputs yet.`);
      continue;
    }
    const { outputs, source } = stack;
    let line = `${NAMES[kind]}: ${outputs.apiUrl} (from ${source}).`;
    // IRIS's outputs list the origins its API allows: say so when this page is not one.
    const origins = outputs.corsOrigins;
    if (Array.isArray(origins) && !origins.includes("*") && !origins.includes(location.origin)) {
      line += ` This page's origin ${location.origin} is not in its corsOrigins ` +
        `(${origins.join(", ")}): the browser will block its answers.`;
    }
    lines.push(line);
  }
  lines.push(...problems);
  const element = $("#stacks");
  element.textContent = lines.join("\n");
  element.dataset.ready = "true";
  element.dataset.iris = stacks.iris?.outputs.apiUrl ?? "";
  element.dataset.spendsense = stacks.spendsense?.outputs.apiUrl ?? "";
}

// One call: the answer, or why there is none to read.
async function call(api, label, url, init = {}) {
  const headers = new Headers(init.headers);
  const key = $("#api-key").value.trim();
  if (key) headers.set("X-API-Key", key);
  let response;
  try {
    response = await fetch(url, { ...init, headers, mode: "cors", credentials: "omit" });
  } catch (error) {
    // fetch gives no status when CORS refuses the answer (or the API is unreachable).
    return show({
      api,
      label,
      outcome: "blocked",
      message:
        `The browser gave this page no answer from ${new URL(url).origin} (${error.message}). ` +
        `Either the API does not allow this page's origin ${location.origin} (add it to the ` +
        "stack's corsOrigins) or the X-API-Key header, or it cannot be reached.",
    });
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Shown as text below.
  }
  const result = {
    api,
    label,
    status: response.status,
    statusText: response.statusText,
    requestId: response.headers.get("X-Request-Id"),
    retryAfter: response.headers.get("Retry-After"),
    body,
    text,
  };
  if (response.ok) return show({ ...result, outcome: "answer" });
  // The functions answer {"error": {"code", "message"}}; API Gateway its own {"message"}.
  const fromFunction = typeof body?.error?.code === "string";
  return show({
    ...result,
    outcome: "error",
    code: fromFunction ? body.error.code : null,
    message: fromFunction ? body.error.message : (body?.message ?? text),
    answeredBy: fromFunction ? "the function" : "API Gateway",
  });
}

const HINTS = {
  401: "No key, or one the API's authorizer did not see: type one of the stack's apiKeys.",
  403: "The API's authorizer refused this key.",
  429: "Too many requests for now: wait before trying again.",
  503: "The service cannot answer right now: try again later.",
};

function retryText(value) {
  if (value === null) return null;
  const seconds = /^\d+$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  if (!Number.isFinite(seconds)) return value;
  const at = new Date(Date.now() + seconds * 1000);
  return `in ${Math.max(0, Math.round(seconds))} s (at ${at.toISOString().slice(11, 16)} UTC)`;
}

function show(result) {
  const item = document.createElement("li");
  item.className = "result";
  item.dataset.api = result.api;
  item.dataset.outcome = result.outcome;
  item.dataset.status = result.status ?? "";
  item.dataset.code = result.code ?? "";
  item.dataset.requestId = result.requestId ?? "";
  item.dataset.retryAfter = result.retryAfter ?? "";

  const title = document.createElement("h3");
  const status = result.status ? `${result.status} ${result.statusText}`.trim() : "blocked";
  title.textContent = `${NAMES[result.api]} ${result.label}: ${status}`;
  item.append(title);

  const facts = [];
  if (result.outcome === "error") {
    facts.push(["answered by", result.answeredBy]);
    if (result.code) facts.push(["error.code", result.code]);
    facts.push(["message", result.message]);
    if (HINTS[result.status]) facts.push(["what to do", HINTS[result.status]]);
  }
  if (result.outcome === "blocked") facts.push(["why", result.message]);
  if (result.status) {
    facts.push(["X-Request-Id", result.requestId ?? "none (API Gateway answered itself)"]);
  }
  const retry = retryText(result.retryAfter ?? null);
  if (retry) facts.push(["retry", retry]);
  if (facts.length) {
    const list = document.createElement("dl");
    for (const [name, value] of facts) {
      const term = document.createElement("dt");
      term.textContent = name;
      const detail = document.createElement("dd");
      detail.textContent = value;
      list.append(term, detail);
    }
    item.append(list);
  }
  if (result.outcome === "answer") {
    const answer = document.createElement("pre");
    answer.textContent = result.body === null ? result.text : JSON.stringify(result.body, null, 2);
    item.append(answer);
  }
  $("#results").prepend(item);
  return result;
}

function needStack(kind) {
  if (stacks[kind] !== null) return stacks[kind].outputs;
  show({ api: kind, label: "", outcome: "blocked", message: `No ${NAMES[kind]} stack outputs loaded.` });
  return null;
}

async function analyze(event) {
  event.preventDefault();
  const outputs = needStack("iris");
  if (outputs === null) return;
  await call("iris", "analyze", outputs.analyzeUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text: $("#text").value }),
  });
}

async function insight(event) {
  event.preventDefault();
  const outputs = needStack("spendsense");
  if (outputs === null) return;
  const name = $("#insight").value;
  const url = new URL(`${outputs.apiUrl}/api/insights/${name}`);
  url.searchParams.set("user_id", $("#user-id").value);
  const asOf = $("#as-of").value.trim();
  if (asOf) url.searchParams.set("as_of", asOf);
  await call("spendsense", name, url.href);
}

$("#analyze-form").addEventListener("submit", analyze);
$("#insight-form").addEventListener("submit", insight);
$("#key-form").addEventListener("submit", (event) => event.preventDefault());
$("#outputs-files").addEventListener("change", loadPickedFiles);
loadOutputs();
