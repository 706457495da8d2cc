/** The console's one stylesheet, served from its own path so the CSP needs no inline style. */
export const CONSOLE_STYLESHEET = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2b3a;color:#fff}
header a{color:#cfe3ff;text-decoration:none;margin-right:1em}header a[aria-current]{color:#fff;font-weight:600;border-bottom:2px solid #fff}
.brand{font-weight:700}.who{margin-left:auto;display:flex;gap:.6em;align-items:center}
main{padding:1em 1.5em;max-width:1200px}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.4em}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border-bottom:1px solid #e3e6ea;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}code{font-size:.92em}
.ok{color:#17723a}.bad{color:#b3261e}.warn{color:#8a5a00}.muted{color:#5d6670}
.state.online{color:#17723a;font-weight:600}.state.offline{color:#b3261e;font-weight:600}.state.revoked{color:#5d6670}
.notice{background:#e7f4ea;border:1px solid #b5dcc0;padding:.5em .8em}.confirm{background:#fff4e5;border:1px solid #f0c98a;padding:.6em .8em}
button{font:inherit;padding:.2em .7em;border:1px solid #8895a3;border-radius:3px;background:#fff;cursor:pointer}button.danger{border-color:#b3261e;color:#b3261e}
form.inline{display:inline-block;margin:0 .3em .2em 0}.filters label,.whatif label{display:inline-block;margin:0 .8em .4em 0}
.decision{border-left:4px solid #8895a3;padding:.3em .8em;background:#fff}.decision.allow{border-color:#17723a}.decision.deny{border-color:#b3261e}
.decision.step-up{border-color:#8a5a00}.spark{vertical-align:middle;color:#2f6db5}tr.failure td.reason{color:#b3261e}
section.app{background:#fff;padding:.2em 1em 1em;margin-bottom:1em;border:1px solid #e3e6ea}dl{display:grid;grid-template-columns:12em 1fr;gap:.2em}dt{color:#5d6670}
`;
