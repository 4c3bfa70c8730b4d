// Runs Segment's own destination definitions (@segment/action-destinations,
// MIT) over switchyard's parity corpus and prints what Segment would send.
//
// Input (stdin, JSON): {"tools": [{"tool", "destination", "settings",
// "subscriptions": [{"name", "action", "subscribe", "mapping"?}]?,
// "returned_url"?}],
// "cases": [{"id", "event"}]}. A tool without subscriptions runs the
// definition's automatic presets, as a destination created in Segment's UI
// does; each action runs with its default mapping merged under the
// preset's (or subscription's) own.
//
// A tool with "returned_url" is a destination whose actions return their
// payload instead of requesting it (Segment's own "Segment" destination
// hands its batch to Segment's pipeline, which posts it to the Tracking
// API): an action that made no request and returned an object is recorded
// as one POST of that object to returned_url.
//
// Output (stdout, one JSON object): {"results": [{"tool", "case",
// "actions": [{"name", "action", "requests": [{"method", "url",
// "headers", "body"}], "error"}]}]}.
//
// Every request is intercepted at actions-core's fetch: nothing leaves the
// machine. Each intercepted request is answered 200 with an empty JSON
// object (or the tool's own empty answer, see replies), which is what the
// actions read as success.
import { createRequire } from 'node:module'
import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'

// actions-core uses Promise.withResolvers (Node 22); Node 20 lacks it.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const require = createRequire(import.meta.url)

// Nothing may leave the machine: any request that does not go through
// actions-core's fetch fails loudly instead.
const refuse = (name) =>
  function () {
    throw new Error(`parity oracle: ${name} called outside actions-core's fetch; nothing may leave the machine`)
  }
http.request = refuse('http.request')
http.get = refuse('http.get')
https.request = refuse('https.request')
https.get = refuse('https.get')
globalThis.fetch = refuse('fetch')

// actions-core's fetch module: request-client reads its default export on
// every call, so replacing it intercepts every request of every action.
const corePath = require.resolve('@segment/actions-core')
const coreFetch = require(corePath.replace(/index\.js$/, 'fetch.js'))
const { Response } = coreFetch
let sink = null
coreFetch.default = async (request) => {
  const headers = {}
  request.headers.forEach((v, k) => {
    headers[k] = v
  })
  const text = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text()
  let body = text
  if (text !== '') {
    const type = headers['content-type'] || ''
    if (type.includes('json') || /^\s*[[{]/.test(text)) {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
      }
    } else if (type.includes('x-www-form-urlencoded')) {
      body = Object.fromEntries(new URLSearchParams(text))
    }
  } else {
    body = null
  }
  if (sink === null) {
    throw new Error('parity oracle: a request outside any action run')
  }
  sink.push({ method: request.method, url: request.url, headers, body })
  return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })
}

const { parseFql, validate } = require('@segment/destination-subscriptions')

function load(destination) {
  // One destination's module alone: loading the whole index would load
  // two hundred destinations and their SDKs.
  const m = require(`@segment/action-destinations/dist/destinations/${destination}`)
  return m.default ?? m
}

function subscriptionsOf(def, tool) {
  if (tool.subscriptions && tool.subscriptions.length > 0) {
    return tool.subscriptions
  }
  return (def.presets ?? [])
    // A preset for a browser plugin (Amplitude's sessionId) has no cloud
    // action: Segment's servers never run it.
    .filter((p) => p.type === 'automatic' && def.actions[p.partnerAction])
    .map((p) => ({ name: p.name, action: p.partnerAction, subscribe: p.subscribe, mapping: p.mapping }))
}

function defaultMapping(action) {
  const out = {}
  for (const [k, f] of Object.entries(action.fields ?? {})) {
    if (f.default !== undefined) {
      out[k] = f.default
    }
  }
  return out
}

const noop = () => {}
const logger = { info: noop, error: noop, warn: noop, debug: noop, crit: noop, log: noop, level: 'error', name: 'oracle' }

async function runOne(destination, def, settings, sub, event, returnedURL) {
  const requests = []
  sink = requests
  const action = def.actions[sub.action]
  const mapping = { ...defaultMapping(action), ...(sub.mapping ?? {}) }
  let error = ''
  try {
    const results = await destination.executeAction(sub.action, {
      event,
      mapping,
      settings,
      auth: undefined,
      features: {},
      statsContext: {},
      logger,
      transactionContext: { transaction: {}, setTransaction: noop },
      stateContext: { getRequestContext: noop, setResponseContext: noop },
      subscriptionMetadata: {}
    })
    const returned = Array.isArray(results) ? results[results.length - 1]?.data : undefined
    if (returnedURL && requests.length === 0 && returned !== null && typeof returned === 'object') {
      requests.push({ method: 'POST', url: returnedURL, headers: {}, body: JSON.parse(JSON.stringify(returned)) })
    }
  } catch (err) {
    error = String(err?.message ?? err)
  } finally {
    sink = null
  }
  return { name: sub.name, action: sub.action, requests, error }
}

async function main() {
  const input = JSON.parse(readFileSync(0, 'utf8'))
  const { Destination } = require(corePath.replace(/index\.js$/, 'destination-kit/index.js'))
  const results = []
  for (const tool of input.tools) {
    const def = load(tool.destination)
    const destination = new Destination(def)
    const subs = subscriptionsOf(def, tool).map((s) => ({ ...s, fql: parseFql(s.subscribe) }))
    for (const s of subs) {
      if (s.fql.error) {
        throw new Error(`${tool.tool}: subscription ${s.name}: ${s.fql.error.message}`)
      }
      if (!def.actions[s.action]) {
        throw new Error(`${tool.tool}: subscription ${s.name}: no action ${s.action} in ${tool.destination}`)
      }
    }
    for (const c of input.cases) {
      const actions = []
      for (const s of subs) {
        if (!validate(s.fql, c.event)) {
          continue
        }
        actions.push(await runOne(destination, def, tool.settings ?? {}, s, c.event, tool.returned_url))
      }
      results.push({ tool: tool.tool, case: c.id, actions })
    }
  }
  process.stdout.write(JSON.stringify({ results }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`parity oracle: ${err?.stack ?? err}\n`)
  process.exit(1)
})
