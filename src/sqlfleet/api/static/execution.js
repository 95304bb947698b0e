// The execution page, live: polls live.json every second while the execution runs and
// updates the counts, the progress bar and the page's rows in place. No page reload. Each
// poll asks only for the rows changed since the last one; when the page's rows moved (a
// target left or entered the filter, or the sort order changed) it fetches the page whole.
"use strict";

(function () {
  const root = document.getElementById("execution");
  if (!root) return;
  const liveUrl = root.dataset.liveUrl;
  const table = document.getElementById("targets");
  const tbody = table.querySelector("tbody");
  const withStep = table.querySelectorAll("thead th").length === 8;
  const ORDER = ["Created", "InProgress", "WaitingForRetry", "Succeeded", "SucceededWithSkipped",
    "Failed", "TimedOut", "Canceled", "Skipped", "WaitingForChildJobExecutions"];
  const view = root.dataset.view || "";
  const filter = root.dataset.filter || "";
  let cursor = root.dataset.cursor || "";
  let active = root.dataset.active === "true";

  function stateBadge(state, big) {
    const span = document.createElement("span");
    span.className = "state state-" + state.toLowerCase() + (big ? " big" : "");
    span.dataset.state = state;
    span.textContent = state;
    return span;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 10) return seconds.toFixed(1) + " s";
    const whole = Math.floor(seconds);
    if (whole < 60) return whole + " s";
    const pad = (n) => String(n).padStart(2, "0");
    if (whole < 3600) return Math.floor(whole / 60) + " min " + pad(whole % 60) + " s";
    return Math.floor(whole / 3600) + " h " + pad(Math.floor((whole % 3600) / 60)) + " min";
  }

  function shortTime(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") : "—";
  }

  function cell(className, text) {
    const td = document.createElement("td");
    td.className = className;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  function newRow(target, executionId) {
    const tr = document.createElement("tr");
    tr.dataset.id = target.target_execution_id;
    if (withStep) tr.appendChild(cell("step", target.step_name));
    tr.appendChild(cell("server mono small", target.target_server_name));
    const database = cell("database", target.target_database_name);
    if (target.target_schema_name) {
      const schema = document.createElement("span");
      schema.className = "muted";
      schema.textContent = " / " + target.target_schema_name;
      database.appendChild(schema);
    }
    const names = Object.keys(target.target_variables || {});
    if (names.length) {
      const variables = document.createElement("div");
      variables.className = "variables small muted mono";
      variables.textContent = names
        .map((name) => name + "=" + JSON.stringify(target.target_variables[name]))
        .join(" ");
      database.appendChild(variables);
    }
    tr.appendChild(database);
    tr.appendChild(cell("lifecycle"));
    tr.appendChild(cell("num attempts"));
    tr.appendChild(cell("num duration nowrap"));
    const message = cell("message");
    const nextTry = document.createElement("span");
    nextTry.className = "next-try small muted";
    message.appendChild(nextTry);
    const text = document.createElement("span");
    text.className = "text";
    message.appendChild(text);
    tr.appendChild(message);
    const actions = cell("actions");
    const log = document.createElement("a");
    log.className = "small";
    log.href = "/executions/" + executionId + "/targets/" + target.target_execution_id;
    log.textContent = "log";
    actions.appendChild(log);
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "small retry-now";
    retry.dataset.id = target.target_execution_id;
    retry.textContent = "Retry now";
    retry.hidden = true;
    actions.append(" ", retry);
    tr.appendChild(actions);
    return tr;
  }

  function updateRow(tr, target) {
    if (tr.dataset.state !== target.lifecycle) {
      tr.dataset.state = target.lifecycle;
      tr.querySelector(".lifecycle").replaceChildren(stateBadge(target.lifecycle));
    }
    tr.querySelector(".attempts").textContent = target.current_attempts;
    tr.querySelector(".duration").textContent = duration(target.duration_seconds);
    const message = target.last_message || "";
    const text = tr.querySelector(".message .text");
    if (text.textContent !== message) {
      text.textContent = message;
      text.title = message;
    }
    const waiting = target.lifecycle === "WaitingForRetry" && target.next_attempt_start_time;
    tr.querySelector(".next-try").textContent =
      waiting ? "next try at " + target.next_attempt_start_time.slice(11, 19) + " UTC · " : "";
    tr.querySelector(".retry-now").hidden = target.lifecycle !== "WaitingForRetry";
  }

  function chipHref(name) {
    const params = new URLSearchParams(view);
    params.delete("page");
    if (name && name !== filter) params.set("state", name); else params.delete("state");
    const query = params.toString();
    return query ? "?" + query : window.location.pathname;
  }

  function updateChips(counts, total) {
    const chips = document.getElementById("chips");
    const all = chips.querySelector('[data-filter=""]');
    all.querySelector("b").textContent = total;
    all.classList.toggle("active", filter === "");
    const names = ORDER.filter((s) => counts[s] || s === filter);
    chips.querySelectorAll(".chip.state").forEach((chip) => {
      if (!names.includes(chip.dataset.filter)) chip.remove();
    });
    let previous = all;
    for (const name of names) {
      let chip = chips.querySelector('[data-filter="' + name + '"]');
      if (!chip) {
        chip = document.createElement("a");
        chip.href = chipHref(name);
        chip.className = "chip state state-" + name.toLowerCase();
        chip.dataset.filter = name;
        chip.append(name + " ", document.createElement("b"));
      }
      chip.querySelector("b").textContent = counts[name] || 0;
      chip.classList.toggle("active", filter === name);
      previous.after(chip);
      previous = chip;
    }
    const bar = document.getElementById("progress");
    bar.replaceChildren(...ORDER.filter((s) => counts[s]).map((name) => {
      const span = document.createElement("span");
      span.className = "state-" + name.toLowerCase();
      span.style.width = (100 * counts[name] / total) + "%";
      span.style.background = "var(--" + name.toLowerCase() + ")";
      span.title = counts[name] + " " + name;
      return span;
    }));
  }

  function update(live) {
    const execution = live.execution;
    const id = execution.job_execution_id;
    document.getElementById("execution-state").replaceChildren(stateBadge(execution.lifecycle, true));
    document.getElementById("started").textContent = shortTime(execution.start_time);
    document.getElementById("ended").textContent = shortTime(execution.end_time);
    document.getElementById("duration").textContent = duration(execution.duration_seconds) || "—";
    const last = document.getElementById("last-message");
    last.textContent = execution.last_message || "";
    last.hidden = !execution.last_message;
    updateChips(execution.target_counts, execution.total_targets);

    const rows = new Map();
    tbody.querySelectorAll("tr").forEach((tr) => rows.set(tr.dataset.id, tr));
    if (live.changes_only) {
      const shown = Array.from(rows.keys()).join(",");
      if (shown !== live.ids.join(",")) return false;  // the page's rows moved
      for (const target of live.targets) updateRow(rows.get(String(target.target_execution_id)), target);
    } else {
      const ordered = live.targets.map((target) => {
        const tr = rows.get(String(target.target_execution_id)) || newRow(target, id);
        updateRow(tr, target);
        return tr;
      });
      tbody.replaceChildren(...ordered);
    }
    document.getElementById("no-targets").hidden = live.ids.length > 0;
    document.getElementById("pager-text").textContent =
      live.matching ? live.first + "–" + live.last + " of " + live.matching : "";
    cursor = live.cursor;

    active = live.live;
    root.dataset.active = String(active);
    document.getElementById("live-note").hidden = !active;
    document.getElementById("stop-form").hidden = !execution.is_active;
    const counts = execution.target_counts;
    const failures = (counts.Failed || 0) + (counts.TimedOut || 0) + (counts.Canceled || 0);
    document.getElementById("rerun-form").hidden = execution.is_active || failures === 0;
    return true;
  }

  tbody.addEventListener("click", (event) => {
    const button = event.target.closest(".retry-now");
    if (!button) return;
    const form = document.getElementById("retry-form");
    form.action = "/executions/" + root.dataset.liveUrl.split("/")[2] + "/targets/" +
      button.dataset.id + "/retry-now";
    form.submit();
  });

  async function poll() {
    try {
      const options = { headers: { Accept: "application/json" }, cache: "no-store" };
      const base = liveUrl + "?" + view + (view ? "&" : "");
      let response = await fetch(base + "since=" + encodeURIComponent(cursor), options);
      if (response.ok && !update(await response.json())) {
        response = await fetch(base, options);
        if (response.ok) update(await response.json());
      }
    } catch (error) {
      // The server may be restarting: try again at the next tick.
    }
    if (active) window.setTimeout(poll, 1000);
  }

  if (active) window.setTimeout(poll, 1000);
})();
