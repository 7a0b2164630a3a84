// A tiny @grpc/grpc-js client for the interop test (tests/interop/test_grpc_js.py).
//
//   TASKPLANE_API_KEY=... node client.js --address 127.0.0.1:50051 --kind KIND \
//     --proto-dir proto --googleapis-dir <site-packages of googleapis-common-protos>
//
// The contracts come from --proto-dir; google/api/field_behavior.proto and
// google/rpc/{status,error_details}.proto from --googleapis-dir (the installed
// Python googleapis-common-protos package); google/protobuf/* are the copies
// bundled with protobufjs. Prints one JSON object with what every call saw.
"use strict";

const path = require("node:path");
const fs = require("node:fs");
const { parseArgs } = require("node:util");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const protobuf = require("protobufjs");

const { values: args } = parseArgs({
  options: {
    address: { type: "string" },
    kind: { type: "string" },
    "proto-dir": { type: "string" },
    "googleapis-dir": { type: "string" },
  },
});
for (const name of ["address", "kind", "proto-dir", "googleapis-dir"]) {
  if (!args[name]) throw new Error(`--${name} is required`);
}
const apiKey = process.env.TASKPLANE_API_KEY;
if (!apiKey) throw new Error("TASKPLANE_API_KEY is required");
const includeDirs = [args["proto-dir"], args["googleapis-dir"]];

const definition = protoLoader.loadSync(
  ["taskplane/v1/tasks.proto", "taskplane/v1/agents.proto", "taskplane/v1/events.proto"],
  { includeDirs, keepCase: false, longs: String, enums: String, defaults: true, oneofs: true },
);
const v1 = grpc.loadPackageDefinition(definition).taskplane.v1;

// google.rpc.Status and its detail messages, decoded with protobufjs.
const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (origin, target) => {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return protobuf.util.path.resolve(origin, target);
};
rpcRoot.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
rpcRoot.resolveAll();
const RpcStatus = rpcRoot.lookupType("google.rpc.Status");

function metadataFor(key) {
  const metadata = new grpc.Metadata();
  if (key) metadata.set("authorization", `Bearer ${key}`);
  return metadata;
}

const credentials = grpc.credentials.createInsecure();
const tasks = new v1.TaskService(args.address, credentials);
const agents = new v1.AgentService(args.address, credentials);
const events = new v1.EventService(args.address, credentials);
const auth = metadataFor(apiKey);

function unary(client, method, request, metadata = auth) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + 20000 }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

// Struct <-> plain JSON, for the task input.
function toStruct(object) {
  const fields = {};
  for (const [key, value] of Object.entries(object)) {
    if (typeof value === "string") fields[key] = { stringValue: value };
    else if (typeof value === "number") fields[key] = { numberValue: value };
    else if (typeof value === "boolean") fields[key] = { boolValue: value };
    else throw new Error(`unsupported value for ${key}`);
  }
  return { fields };
}

function fromStruct(struct) {
  const object = {};
  for (const [key, value] of Object.entries(struct.fields)) object[key] = value[value.kind];
  return object;
}

function describeError(error) {
  const result = { code: error.code, codeName: grpc.status[error.code], details: error.details };
  const [raw] = error.metadata ? error.metadata.get("grpc-status-details-bin") : [];
  if (raw) {
    // Any details are unpacked into {"@type": ..., fields} by protobufjs's json mode.
    result.status = RpcStatus.toObject(RpcStatus.decode(raw), { json: true, enums: String });
  }
  return result;
}

async function expectError(promise) {
  try {
    await promise;
  } catch (error) {
    return describeError(error);
  }
  throw new Error("the call succeeded but an error was expected");
}

// Server streaming: replays task.created, then (live) the events of the
// acquisition this function triggers; cancels the stream after `count` events.
function subscribe(taskId, count, onFirstEvent) {
  return new Promise((resolve, reject) => {
    const seen = [];
    let cancelled = false;
    // The stream can deliver the events the callback causes before the
    // callback's own calls return: settle only once it has finished.
    let work = Promise.resolve();
    const settle = (result) => work.then(() => resolve(result), reject);
    const call = events.subscribe(
      { filter: { taskId }, position: "START_POSITION_BEGINNING" },
      auth,
      { deadline: Date.now() + 20000 },
    );
    call.on("data", (response) => {
      if (response.message !== "batch") return;
      for (const event of response.batch.events) {
        seen.push({
          type: event.type,
          taskId: event.taskId,
          sequence: event.sequence,
          payload: event.payload,
        });
        if (seen.length === 1) work = onFirstEvent();
      }
      if (seen.length >= count && !cancelled) {
        cancelled = true;
        call.cancel();
      }
    });
    call.on("error", (error) => {
      if (cancelled && error.code === grpc.status.CANCELLED) {
        settle({ events: seen, endedWith: grpc.status[error.code] });
      } else {
        reject(error);
      }
    });
    call.on("end", () => settle({ events: seen, endedWith: "END" }));
  });
}

async function main() {
  const output = {};
  const input = { url: "https://example.com", pages: 3, deep: true };

  // Unary call.
  const created = await unary(tasks, "createTask", {
    task: { kind: args.kind, input: toStruct(input), labels: { client: "grpc-js" }, priority: 5 },
    requestId: `node-${args.kind}`,
  });
  const task = created.task;
  output.created = {
    id: task.id,
    kind: task.kind,
    state: task.state,
    priority: task.priority,
    labels: task.labels,
    input: fromStruct(task.input),
    requestId: task.requestId,
    deduplicated: created.deduplicated,
  };

  // Server stream: the replayed task.created, then task.started and
  // execution.started live once an agent acquires the task; then cancel.
  let lease = null;
  const stream = await subscribe(task.id, 3, async () => {
    const registered = await unary(agents, "registerAgent", {
      agent: { name: "grpc-js-worker", capabilities: [args.kind], maxConcurrency: 1 },
    });
    const acquired = await unary(agents, "acquireTasks", {
      agentId: registered.agent.id,
      maxTasks: 1,
      wait: { seconds: 10 },
    });
    lease = acquired.leases[0];
  });
  output.stream = {
    endedWith: stream.endedWith,
    events: stream.events.map((e) => ({
      type: e.type,
      taskId: e.taskId,
      sequence: e.sequence,
      payload: e.payload,
    })),
    leasedTaskId: lease ? lease.task.id : null,
  };

  // Tidy up: the agent completes the task it leased.
  const completed = await unary(agents, "completeTask", {
    lease: { taskId: lease.task.id, leaseId: lease.leaseId },
    result: toStruct({ ok: true }),
  });
  output.completed = { state: completed.task.state, result: fromStruct(completed.task.result) };

  // Errors with google.rpc details.
  output.invalid = await expectError(
    unary(tasks, "createTask", { task: { kind: "has spaces!", priority: 5000 } }),
  );
  output.unauthenticated = await expectError(
    unary(tasks, "getTask", { taskId: task.id }, metadataFor(null)),
  );

  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    tasks.close();
    agents.close();
    events.close();
  });
