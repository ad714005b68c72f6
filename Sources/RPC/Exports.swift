// What travels on the wire (JSONValue, RPCError, RPCStatus and the JSON coders) lives
// in the NIO-free `Wire` module so the contracts layer can use it without NIO; every
// importer of RPC sees it as before.
@_exported import Wire
