'use strict';
// The embedded broker's object store: the part of the S3 API that Tansu's `s3://` storage engine uses, keeping each
// object as a file under --directory, so that what the broker acknowledged survives a kill -9 of the broker or of
// this server.
//
// Three properties the broker depends on, and why this server exists rather than a general local S3 server:
// - Conditional writes. The broker keeps each partition's next offset (watermark.json) and its metadata as objects
//   written with `If-None-Match: *` (create only) or `If-Match: <etag>` (replace only the version it read). A restarted
//   broker has read nothing yet, so its first write is a create; refused with 412, it reads the stored watermark and
//   writes again from there. A server that ignores the condition lets the restarted broker hand out offsets from 0
//   again, over the stored records.
// - Atomic replacement. An object is written to a temporary file and renamed over the old one, so a reader sees the
//   old or the new version, never a half-written one (a fetch that reads an empty watermark fails).
// - Listing by prefix from a sorted index in memory, not by walking the folder: a fetch lists its partition's records.
//
// Not served: authentication (it listens on loopback and accepts any credentials), buckets other than --bucket,
// multipart uploads, copies, versioning. Objects are renamed into place without fsync: they survive a process that
// dies, not a machine that loses power.
//
//   node server.js --directory DIR --port PORT [--address 127.0.0.1] [--bucket tansu]

const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const http = require('node:http');
const path = require('node:path');
const { parseArgs } = require('node:util');

const LIST_PAGE = 1000;

class ObjectFolder {
  constructor(folder) {
    this.objects = path.join(folder, 'objects');
    this.scratch = path.join(folder, 'incoming');
    this.entries = new Map(); // key -> {etag, size, modified (ms)}
    this.keys = []; // sorted
    this.turns = new Map(); // key -> tail of the operations waiting for it
    this.written = 0;
  }

  load() {
    fs.mkdirSync(this.objects, { recursive: true });
    fs.rmSync(this.scratch, { recursive: true, force: true });
    fs.mkdirSync(this.scratch, { recursive: true });
    for (const name of fs.readdirSync(this.objects)) {
      const file = path.join(this.objects, name);
      const content = fs.readFileSync(file);
      const { mtimeMs } = fs.statSync(file);
      this.entries.set(decodeURIComponent(name), { etag: etagOf(content), size: content.length, modified: mtimeMs });
    }
    this.keys = [...this.entries.keys()].sort(byCodePoint);
    return this.keys.length;
  }

  fileOf(key) {
    // One flat folder: a key may be both an object and the prefix of other keys.
    return path.join(this.objects, encodeURIComponent(key));
  }

  // One operation at a time per key, so a conditional write's check and its write are one step and a read never sees
  // the index and the file of two different versions.
  async inTurn(key, operation) {
    const previous = this.turns.get(key) || Promise.resolve();
    let done;
    const mine = new Promise(resolve => {
      done = resolve;
    });
    const tail = previous.then(() => mine);
    this.turns.set(key, tail);
    await previous;
    try {
      return await operation();
    } finally {
      done();
      if (this.turns.get(key) === tail) this.turns.delete(key);
    }
  }

  async put(key, content) {
    const incoming = path.join(this.scratch, `${process.pid}-${++this.written}`);
    await fsp.writeFile(incoming, content);
    await fsp.rename(incoming, this.fileOf(key));
    const entry = { etag: etagOf(content), size: content.length, modified: Date.now() };
    if (!this.entries.has(key)) this.keys.splice(insertionPoint(this.keys, key), 0, key);
    this.entries.set(key, entry);
    return entry;
  }

  async remove(key) {
    if (!this.entries.delete(key)) return;
    this.keys.splice(insertionPoint(this.keys, key), 1);
    await fsp.rm(this.fileOf(key), { force: true });
  }

  // Keys after `after` that start with `prefix`, up to `limit`; with a delimiter, what follows it is rolled up.
  list({ prefix, after, delimiter, limit }) {
    const contents = [];
    const prefixes = [];
    let index = insertionPoint(this.keys, after && after > prefix ? after : prefix);
    if (this.keys[index] === after) index += 1;
    // A page that ended on a common prefix goes on after every key under it.
    if (delimiter && after.endsWith(delimiter) && after > prefix) index = insertionPoint(this.keys, after + '\u{10FFFF}');
    let last = null;
    while (index < this.keys.length && contents.length + prefixes.length < limit) {
      const key = this.keys[index];
      if (!key.startsWith(prefix)) break;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const common = key.slice(0, cut + delimiter.length);
        prefixes.push(common);
        last = common;
        // Past every key under this common prefix.
        index = insertionPoint(this.keys, common + '\u{10FFFF}');
        continue;
      }
      contents.push([key, this.entries.get(key)]);
      last = key;
      index += 1;
    }
    const truncated = index < this.keys.length && this.keys[index].startsWith(prefix);
    return { contents, prefixes, truncated, last };
  }
}

function byCodePoint(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function insertionPoint(sorted, key) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

function etagOf(content) {
  return `"${crypto.createHash('md5').update(content).digest('hex')}"`;
}

function sameEtag(condition, etag) {
  return condition
    .split(',')
    .map(part => part.trim().replace(/^W\//, ''))
    .some(part => part === '*' || part === etag || `"${part}"` === etag);
}

function xmlEscape(text) {
  return String(text).replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`);
}

function sendError(response, status, code, message, head = false) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
  response.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  response.end(head ? undefined : body);
}

function objectHeaders(entry) {
  return {
    ETag: entry.etag,
    'Last-Modified': new Date(entry.modified).toUTCString(),
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
  };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', chunk => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

async function getObject(folder, key, request, response, head) {
  await folder.inTurn(key, async () => {
    const entry = folder.entries.get(key);
    if (!entry) return sendError(response, 404, 'NoSuchKey', `no object ${key}`, head);
    const ifMatch = request.headers['if-match'];
    if (ifMatch && !sameEtag(ifMatch, entry.etag)) {
      return sendError(response, 412, 'PreconditionFailed', 'If-Match does not hold', head);
    }
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch && sameEtag(ifNoneMatch, entry.etag)) {
      response.writeHead(304, { ETag: entry.etag });
      return response.end();
    }
    let content = head ? null : await fsp.readFile(folder.fileOf(key));
    const headers = objectHeaders(entry);
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range || '');
    if (range && !head) {
      const start = range[1] === '' ? Math.max(entry.size - Number(range[2]), 0) : Number(range[1]);
      const end = range[1] === '' || range[2] === '' ? entry.size - 1 : Math.min(Number(range[2]), entry.size - 1);
      if (start > end || start >= entry.size) {
        return sendError(response, 416, 'InvalidRange', 'The requested range is not satisfiable');
      }
      content = content.subarray(start, end + 1);
      headers['Content-Range'] = `bytes ${start}-${end}/${entry.size}`;
      status = 206;
    }
    headers['Content-Length'] = head ? entry.size : content.length;
    response.writeHead(status, headers);
    response.end(head ? undefined : content);
  });
}

async function putObject(folder, key, request, response) {
  if (request.headers['x-amz-copy-source']) {
    return sendError(response, 501, 'NotImplemented', 'copies are not served by the embedded object store');
  }
  const content = await readBody(request);
  await folder.inTurn(key, async () => {
    const existing = folder.entries.get(key);
    const ifNoneMatch = request.headers['if-none-match'];
    const ifMatch = request.headers['if-match'];
    if (ifNoneMatch && existing && sameEtag(ifNoneMatch, existing.etag)) {
      return sendError(response, 412, 'PreconditionFailed', 'If-None-Match does not hold: the object exists');
    }
    if (ifMatch && (!existing || !sameEtag(ifMatch, existing.etag))) {
      return sendError(response, 412, 'PreconditionFailed', 'If-Match does not hold: the object changed');
    }
    const entry = await folder.put(key, content);
    response.writeHead(200, { ETag: entry.etag, 'Content-Length': 0 });
    response.end();
  });
}

async function deleteObject(folder, key, response) {
  await folder.inTurn(key, () => folder.remove(key));
  response.writeHead(204);
  response.end();
}

async function deleteObjects(folder, bucket, request, response) {
  const body = (await readBody(request)).toString('utf8');
  const keys = [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map(match => unescapeXml(match[1]));
  for (const key of keys) await folder.inTurn(key, () => folder.remove(key));
  const deleted = keys.map(key => `<Deleted><Key>${xmlEscape(key)}</Key></Deleted>`).join('');
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>${deleted}</DeleteResult>`;
  response.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
  response.end(xml);
}

function unescapeXml(text) {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&');
}

function listObjects(folder, bucket, query, response) {
  const prefix = query.get('prefix') || '';
  const delimiter = query.get('delimiter') || '';
  const token = query.get('continuation-token');
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : query.get('start-after') || '';
  const limit = Math.min(Number(query.get('max-keys') || LIST_PAGE), LIST_PAGE);
  const { contents, prefixes, truncated, last } = folder.list({ prefix, after, delimiter, limit });
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>`,
    `<KeyCount>${contents.length + prefixes.length}</KeyCount><MaxKeys>${limit}</MaxKeys>`,
    delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : '',
    `<IsTruncated>${truncated}</IsTruncated>`,
    truncated ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '',
  ];
  for (const [key, entry] of contents) {
    parts.push(
      `<Contents><Key>${xmlEscape(key)}</Key><LastModified>${new Date(entry.modified).toISOString()}</LastModified>` +
        `<ETag>${xmlEscape(entry.etag)}</ETag><Size>${entry.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  for (const common of prefixes) parts.push(`<CommonPrefixes><Prefix>${xmlEscape(common)}</Prefix></CommonPrefixes>`);
  parts.push('</ListBucketResult>');
  const xml = parts.join('');
  response.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
  response.end(xml);
}

function handler(folder, bucketName) {
  return async (request, response) => {
    const url = new URL(request.url, 'http://embedded');
    // Path-style addressing, as the broker is configured: /bucket/key
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const method = request.method;
    try {
      if (decodeURIComponent(bucket || '') !== bucketName) {
        return sendError(response, 404, 'NoSuchBucket', `this server keeps the bucket ${bucketName} only`);
      }
      if (!key) {
        if (method === 'GET' || method === 'HEAD') {
          if (method === 'HEAD') return response.writeHead(200).end();
          return listObjects(folder, bucketName, url.searchParams, response);
        }
        if (method === 'POST' && url.searchParams.has('delete')) {
          return await deleteObjects(folder, bucketName, request, response);
        }
        if (method === 'PUT') return response.writeHead(200).end(); // the bucket exists already
        return sendError(response, 405, 'MethodNotAllowed', `${method} on a bucket is not served`);
      }
      if (url.searchParams.has('uploads') || url.searchParams.has('uploadId')) {
        return sendError(response, 501, 'NotImplemented', 'multipart uploads are not served');
      }
      if (method === 'GET' || method === 'HEAD') return await getObject(folder, key, request, response, method === 'HEAD');
      if (method === 'PUT') return await putObject(folder, key, request, response);
      if (method === 'DELETE') return await deleteObject(folder, key, response);
      return sendError(response, 405, 'MethodNotAllowed', `${method} on an object is not served`);
    } catch (error) {
      process.stderr.write(`${method} ${request.url}: ${error.stack || error}\n`);
      if (!response.headersSent) sendError(response, 500, 'InternalError', String(error.message || error));
      else response.destroy();
    }
  };
}

function main() {
  const { values } = parseArgs({
    options: {
      directory: { type: 'string' },
      address: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      bucket: { type: 'string', default: 'tansu' },
    },
  });
  if (!values.directory || !values.port) {
    process.stderr.write('usage: node server.js --directory DIR --port PORT [--address A] [--bucket NAME]\n');
    process.exit(2);
  }
  const folder = new ObjectFolder(path.join(values.directory, values.bucket));
  const count = folder.load();
  const server = http.createServer({ keepAliveTimeout: 60_000 }, handler(folder, values.bucket));
  server.listen(Number(values.port), values.address, () => {
    process.stdout.write(`embedded object store on ${values.address}:${values.port}: ${count} objects in ${folder.objects}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
