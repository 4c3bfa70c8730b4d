// Maps the benchmark's events with Segment's own action definitions
// (@segment/action-destinations and @segment/actions-core, MIT), for the
// peer table of `make bench` (-phases P): each event runs through the
// actions of the tool's automatic presets whose subscription matches it,
// with the action's default mapping, as Segment's servers run a
// destination created in its UI. Every request is intercepted at
// actions-core's fetch and answered 200 at once: what is timed is parsing
// the event, matching the subscriptions, mapping and building the request.
//
//	node run.mjs ORACLE_DIR EVENTS.jsonl TOOLS.json
//
// ORACLE_DIR is internal/parity/oracle, whose pinned packages this shares
// (npm ci there). TOOLS.json is [{"tool", "destination", "settings"}].
// Output: one JSON object, {"results": [{"tool", "events", "cpu_seconds",
// "wall_seconds", "actions", "requests", "errors", "first_error"}]}, the
// CPU time of this process (process.cpuUsage, every thread).
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const [oracleDir, eventsFile, toolsFile] = process.argv.slice(2)
if (!oracleDir || !eventsFile || !toolsFile) {
  process.stderr.write('usage: node run.mjs ORACLE_DIR EVENTS.jsonl TOOLS.json\n')
  process.exit(2)
}

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

const require = createRequire(join(oracleDir, 'package.json'))
const corePath = require.resolve('@segment/actions-core')
const coreFetch = require(corePath.replace(/index\.js$/, 'fetch.js'))
const { Response } = coreFetch
let requests = 0
coreFetch.default = async (request) => {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    await request.text() // the body is built and read, as a transport would
  }
  requests++
  return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })
}
globalThis.fetch = () => {
  throw new Error('nothing may leave the machine')
}

const { parseFql, validate } = require('@segment/destination-subscriptions')
const { Destination } = require(corePath.replace(/index\.js$/, 'destination-kit/index.js'))

function load(destination) {
  const m = require(`@segment/action-destinations/dist/destinations/${destination}`)
  return m.default ?? m
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
const logger = { info: noop, error: noop, warn: noop, debug: noop, crit: noop, log: noop, level: 'error', name: 'bench' }

async function main() {
  const lines = readFileSync(eventsFile, 'utf8').trim().split('\n')
  const tools = JSON.parse(readFileSync(toolsFile, 'utf8'))
  const results = []
  for (const tool of tools) {
    const def = load(tool.destination)
    const destination = new Destination(def)
    const subs = (def.presets ?? [])
      .filter((p) => p.type === 'automatic' && def.actions[p.partnerAction])
      .map((p) => {
        const action = def.actions[p.partnerAction]
        return { action: p.partnerAction, fql: parseFql(p.subscribe), mapping: { ...defaultMapping(action), ...(p.mapping ?? {}) } }
      })
    let actions = 0
    let errors = 0
    let firstError = ''
    requests = 0
    const cpu0 = process.cpuUsage()
    const wall0 = process.hrtime.bigint()
    for (const line of lines) {
      const event = JSON.parse(line)
      for (const s of subs) {
        if (!validate(s.fql, event)) {
          continue
        }
        actions++
        try {
          await destination.executeAction(s.action, {
            event,
            mapping: s.mapping,
            settings: tool.settings ?? {},
            auth: undefined,
            features: {},
            statsContext: {},
            logger,
            transactionContext: { transaction: {}, setTransaction: noop },
            stateContext: { getRequestContext: noop, setResponseContext: noop },
            subscriptionMetadata: {}
          })
        } catch (err) {
          errors++
          if (firstError === '') {
            firstError = String(err?.message ?? err)
          }
        }
      }
    }
    const cpu = process.cpuUsage(cpu0)
    const wall = Number(process.hrtime.bigint() - wall0) / 1e9
    results.push({ tool: tool.tool, events: lines.length, cpu_seconds: (cpu.user + cpu.system) / 1e6, wall_seconds: wall, actions, requests, errors, first_error: firstError })
  }
  process.stdout.write(JSON.stringify({ results }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`segment peer: ${err?.stack ?? err}\n`)
  process.exit(1)
})
