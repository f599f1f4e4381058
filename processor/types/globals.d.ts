// Connect's type declarations name the DOM's `HeadersInit`, which @types/node does not declare.
// Declaring just this alias (instead of pulling in lib "dom") keeps browser globals out of scope.
type HeadersInit = [string, string][] | Record<string, string> | Headers;
