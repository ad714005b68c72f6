// The wire types this service serves are the contracts layer's; whoever imports the
// service sees them as before.
@_exported import Contracts
