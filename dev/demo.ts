// The one-command demo (identity provider, gateway, connector and a sample app) arrives with the demo issue.
console.log(`Gatehouse demo: coming soon.

The demo (a development identity provider, the gateway, a registered connector and a
sample internal app, all on loopback) lands with the demo issue. Until then:

  npm test                                   runs the whole test suite against a real
                                             identity provider on 127.0.0.1
  gatehouse serve --config gatehouse.yaml    runs the cloud side from a config file
                                             (see README.md, "Configuration")
`);
