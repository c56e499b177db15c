// A local OpenID Connect provider for the single sign-on tests: panva/oidc-provider (OpenID
// Certified) with its built-in development login pages. Any login name signs in; its claims come
// from OIDC_USERS. PKCE (S256) is required of every client, so a relying party that skips it fails.
import Provider from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const users = JSON.parse(process.env.OIDC_USERS || "{}");

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile", "groups"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const user = users[id] || {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: user.email || `${id}@sso.example`,
          email_verified: user.email_verified ?? true,
          name: user.name || id,
          groups: user.groups || [],
        };
      },
    };
  },
});
provider.proxy = false;

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
