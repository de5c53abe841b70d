// signgate console: the only script the pages load (the Content-Security-Policy allows no
// other). Pages read fully without it. It keeps a proposal's page current (WatchProposal),
// approves and rejects with a security key or passkey (WebAuthn), and enrols one.
"use strict";

(function () {
  const b64 = {
    toBytes(text) {
      const s = text.replace(/-/g, "+").replace(/_/g, "/");
      const bin = atob(s + "===".slice((s.length + 3) % 4));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0));
    },
  };

  async function json(url, options) {
    const res = await fetch(url, options);
    const body = await res.json().catch(() => ({ ok: false, message: res.statusText }));
    if (!res.ok || body.ok === false) {
      throw new Error(body.message || res.statusText);
    }
    return body;
  }

  function post(url, body) {
    return json(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  // Live updates: reload when WatchProposal reports a new revision.
  const summary = document.querySelector("[data-proposal]");
  if (summary && typeof EventSource !== "undefined") {
    const id = summary.getAttribute("data-proposal");
    const shown = Number(summary.getAttribute("data-revision"));
    const events = new EventSource("/proposals/" + encodeURIComponent(id) + "/events");
    events.addEventListener("changed", function (e) {
      if (Number(e.data) > shown) {
        events.close();
        window.location.reload();
      }
    });
  }

  // Approve or reject: the statement first, shown; then the key signs its challenge.
  const sign = document.querySelector("[data-sign]");
  if (sign) {
    const id = sign.getAttribute("data-sign");
    const result = document.getElementById("sign-result");
    const shown = document.getElementById("statement");
    sign.querySelectorAll("button[data-kind]").forEach(function (button) {
      button.addEventListener("click", async function () {
        const kind = button.getAttribute("data-kind");
        result.textContent = "Preparing the statement…";
        try {
          const statement = await json(
            "/proposals/" + encodeURIComponent(id) + "/statement?kind=" + kind,
          );
          shown.replaceChildren();
          for (const [name, value] of statement.fields) {
            const dt = document.createElement("dt");
            dt.textContent = name;
            const dd = document.createElement("dd");
            dd.textContent = value;
            shown.append(dt, dd);
          }
          shown.hidden = false;
          result.textContent = "Touch your security key to sign this statement.";
          const credential = await navigator.credentials.get({
            publicKey: {
              challenge: b64.toBytes(statement.challenge),
              rpId: window.location.hostname,
              userVerification: "required",
              timeout: 120000,
            },
          });
          const answer = await post("/proposals/" + encodeURIComponent(id) + "/sign", {
            kind: kind,
            payload: statement.payload,
            credential: credential.toJSON(),
          });
          result.textContent = "Recorded: the proposal is now " + answer.state + ".";
        } catch (e) {
          result.textContent = "Refused: " + e.message;
        }
      });
    });
  }

  // Enrolment: create a credential, then have it sign the enrolment request.
  const form = document.getElementById("enrol-form");
  if (form) {
    const result = document.getElementById("enrol-result");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const operator = document.getElementById("operator").value.trim();
      result.textContent = "Asking your security key to create a credential…";
      try {
        const options = await json("/enrol/options?operator=" + encodeURIComponent(operator));
        const created = await navigator.credentials.create({
          publicKey: {
            challenge: b64.toBytes(options.challenge),
            rp: { id: options.rp_id, name: "signgate" },
            user: {
              id: b64.toBytes(options.user_id),
              name: operator,
              displayName: operator,
            },
            pubKeyCredParams: [
              { type: "public-key", alg: -7 },
              { type: "public-key", alg: -8 },
            ],
            authenticatorSelection: { residentKey: "required", userVerification: "required" },
            attestation: "none",
            timeout: 120000,
          },
        });
        const registered = await post("/enrol", {
          operator: options.operator,
          requested_at_ms: options.requested_at_ms,
          credential: created.toJSON(),
        });
        result.textContent = "Touch your security key again to sign the enrolment request.";
        const proof = await navigator.credentials.get({
          publicKey: {
            challenge: b64.toBytes(registered.challenge),
            rpId: options.rp_id,
            allowCredentials: [{ type: "public-key", id: b64.toBytes(registered.credential_id) }],
            userVerification: "required",
            timeout: 120000,
          },
        });
        const signed = await post("/enrol/proof", {
          request: registered.request,
          proof: proof.toJSON(),
        });
        document.getElementById("policy-line").textContent = signed.policy_key;
        document.getElementById("request").value = JSON.stringify(signed.signed_request, null, 2);
        document.getElementById("enrolled").hidden = false;
        result.textContent = "Enrolled: send the signed request to your admins.";
      } catch (e) {
        result.textContent = "Refused: " + e.message;
      }
    });
  }
})();
