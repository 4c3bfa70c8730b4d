// send.mjs drives switchyard's Segment-compatible intake with the real
// @segment/analytics-node client, the way an existing Segment user would:
// only `host` changes. It is run by the Go test TestAnalyticsNodeClient
// (ingest/node_test.go), which then reads the events back from NATS.
//
//   SWITCHYARD_HOST=http://127.0.0.1:8080 SWITCHYARD_WRITE_KEY=wk node send.mjs
//
// It prints one JSON line: the events the client reports delivered
// ({type, messageId}), the number of events in each HTTP request, the HTTP
// statuses, and any failures. It exits 1 when anything failed.
import { Analytics } from '@segment/analytics-node'

const host = process.env.SWITCHYARD_HOST
const writeKey = process.env.SWITCHYARD_WRITE_KEY
if (!host || !writeKey) {
  console.error('send.mjs: set SWITCHYARD_HOST and SWITCHYARD_WRITE_KEY')
  process.exit(2)
}

const report = { delivered: [], requests: [], statuses: [], failures: [] }

function newClient(settings) {
  const analytics = new Analytics({
    writeKey,
    host,
    maxRetries: 2,
    httpRequestTimeout: 10000,
    ...settings,
  })
  analytics.on('http_request', (req) => {
    report.requests.push(JSON.parse(req.body).batch.length)
  })
  analytics.on('http_response', (res) => {
    report.statuses.push(res.status)
  })
  analytics.on('error', (err) => {
    report.failures.push(`${err.code}: ${err.reason?.message ?? err.reason}`)
  })
  return analytics
}

// call runs one analytics-node method and resolves once the client reports
// the event delivered (or failed).
function call(analytics, method, params) {
  return new Promise((resolve) => {
    analytics[method](params, (err, ctx) => {
      if (err) {
        report.failures.push(`${method}: ${err.message ?? err}`)
      } else {
        report.delivered.push({ type: ctx.event.type, messageId: ctx.event.messageId })
      }
      resolve()
    })
  })
}

// 1. One request per call: flushAt 1 sends each event as soon as it is made.
const single = newClient({ flushAt: 1 })
await call(single, 'identify', {
  userId: 'user-42',
  traits: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', plan: 'pro' },
})
await call(single, 'track', {
  userId: 'user-42',
  event: 'Order Completed',
  properties: {
    order_id: 'ord-1001',
    total: 54.5,
    revenue: 49.5,
    shipping: 5,
    currency: 'EUR',
    products: [
      { product_id: 'sku-1', sku: 'TSHIRT-BLK-M', name: 'T-shirt', price: 19.5, quantity: 2 },
      { product_id: 'sku-2', sku: 'MUG-01', name: 'Mug', price: 10.5, quantity: 1 },
    ],
  },
})
await call(single, 'page', {
  userId: 'user-42',
  category: 'Docs',
  name: 'Quickstart',
  properties: { url: 'https://example.com/docs/quickstart', path: '/docs/quickstart' },
})
await single.closeAndFlush({ timeout: 20000 })

// 2. A batch: the events wait in the client until closeAndFlush sends them
// together in one /v1/batch request.
const batched = newClient({ flushAt: 50, flushInterval: 60000 })
const pending = [
  call(batched, 'group', { userId: 'user-42', groupId: 'acme', traits: { name: 'Acme Inc', plan: 'enterprise' } }),
  call(batched, 'track', { anonymousId: 'anon-7', event: 'Product Viewed', properties: { product_id: 'sku-2', price: 10.5 } }),
  call(batched, 'screen', { userId: 'user-42', name: 'Cart' }),
  call(batched, 'alias', { userId: 'user-42', previousId: 'anon-7' }),
]
await batched.closeAndFlush({ timeout: 20000 })
await Promise.all(pending)

console.log(JSON.stringify(report))
process.exit(report.failures.length > 0 || report.delivered.length !== 7 ? 1 : 0)
