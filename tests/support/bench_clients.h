// Set-up for whole-process benches that run many HTTPS clients beside the hub they measure,
// on one machine. Library berth_test_support.
//
//   int main(int argc, char** argv) {
//     ...parse flags...
//     berth::testing::PrepareBenchClients(client_io_threads);  // before any client or thread
//
// Why: cpprestsdk builds a fresh TLS context for every new client connection and loads the
// system CA bundle into it (OpenSSL 3 parses ~140 certificates: 19 ms of CPU per connection,
// measured on the CI machine), which RestClient then discards because it trusts only the
// configured CA. A real agent pays that once per connection on its own machine; a bench that
// emulates 1,000 agents on the hub's machine pays it 1,000 times whenever the hub restarts,
// and the hub it measures gets what CPU is left (docs/PERFORMANCE.md, hub restart). Every
// bench client carries the hub CA explicitly, so the system bundle is pointed at nothing.
// HubProcess keeps this setting out of the hub's environment.
#pragma once

namespace berth::testing {

// io_threads > 0: cpprestsdk's shared I/O pool gets that many threads instead of the
// library's 40 (fewer wake-ups competing with the hub); 0 keeps the default.
// Also sets SSL_CERT_FILE and SSL_CERT_DIR to kNoSystemTrust for this process.
void PrepareBenchClients(int io_threads);

inline constexpr const char* kNoSystemTrust = "/dev/null";

}  // namespace berth::testing
