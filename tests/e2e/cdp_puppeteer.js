// Drives a runtime through the CDP gateway with puppeteer-core, as a user's script would:
// node cdp_puppeteer.js <webSocketDebuggerUrl> <page url> <screenshot path>; prints one JSON line.
const puppeteer = require('puppeteer-core');

(async () => {
  const [endpoint, url, shot] = process.argv.slice(2);
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
  const [page] = await browser.pages();
  await page.goto(url);
  const title = await page.title();
  await page.screenshot({ path: shot });
  let closeError = null;
  const cdp = await browser.target().createCDPSession();
  try {
    await cdp.send('Browser.close'); // refused by the gateway: the runtime's browser outlives its clients
  } catch (error) {
    closeError = error.message;
  }
  const still = await page.evaluate(() => location.href);
  await browser.disconnect();
  console.log(JSON.stringify({ title, still, closeError }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
