// Preloaded into a broker process (`node --import`) to shift its wall clock by TEST_CLOCK_SKEW_MS:
// Date.now() and new Date() run that far ahead (or behind), as on a host whose clock is off.
// performance.now() (monotonic) is left alone, as it is on such a host.
const skew = Number(process.env.TEST_CLOCK_SKEW_MS ?? '0');
if (!Number.isFinite(skew)) throw new Error('TEST_CLOCK_SKEW_MS must be a number of milliseconds');
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + skew);
    else super(...args);
  }
  static now() {
    return realNow() + skew;
  }
}
globalThis.Date = SkewedDate;
