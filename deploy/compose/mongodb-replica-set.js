// The compose file's MongoDB health check: initiate the one-node replica set the first time, then succeed only
// once this node is the writable primary (the services write with w=majority, which needs one).
try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
}
quit(db.hello().isWritablePrimary ? 0 : 1);
