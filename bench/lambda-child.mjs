// One Lambda function's process for bench/lambdas.ts: loads the bundle named by BENCH_BUNDLE, then invokes
// its handler with each event the bench sends (IPC), one at a time, as Lambda does.
//   bench → child  {t:'invoke', event}   {t:'report'}
//   child → bench  {t:'ready', load_ms, rss}   {t:'done', ms, cpu_ms, status, bytes}   {t:'report', max_rss}
const t0 = performance.now();
const { handler } = await import(process.env.BENCH_BUNDLE);
const loadMs = performance.now() - t0;
const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 30_000, callbackWaitsForEmptyEventLoop: false };

process.on('message', async (m) => {
  if (m.t === 'report') {
    // maxRSS is in KB: the peak of this process, what a REPORT line calls Max Memory Used.
    process.send({ t: 'report', max_rss: process.resourceUsage().maxRSS * 1024 });
    return;
  }
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const out = await handler(m.event, context);
  const c = process.cpuUsage(c0);
  process.send({ t: 'done', ms: performance.now() - w0, cpu_ms: (c.user + c.system) / 1000, status: out.statusCode, bytes: Buffer.byteLength(out.body ?? '') });
});
process.send({ t: 'ready', load_ms: loadMs, rss: process.memoryUsage().rss });
