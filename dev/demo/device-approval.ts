import { BrowserClient } from '../../test/support/browser-client.ts';

/**
 * Completes the person's side of an OAuth device login at the development
 * identity provider: open the verification page, enter the code, sign in.
 * The demo does this for its admin so that it starts without a click; a real
 * operator does it in a browser.
 */
export async function approveDeviceLogin(verificationUri: string, userCode: string, login: string, password: string, ca: string): Promise<void> {
  const browser = new BrowserClient({ ca });
  try {
    const input = await browser.navigate(verificationUri);
    const confirm = await browser.submitForm(input.response, input.response.url, { user_code: userCode });
    const form = await browser.submitForm(confirm.response, confirm.response.url, {});
    const done = await browser.submitForm(form.response, form.response.url, { login, password });
    const text = await done.response.text();
    if (!/Sign-in complete/.test(text)) throw new Error('the device login was not approved');
  } finally {
    await browser.close();
  }
}
