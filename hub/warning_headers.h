// Kubernetes `Warning` response headers (RFC 7234 code 299, agent "-"): what the hub accepted
// but ignored, converted or deprecates, shown by kubectl as "Warning: ..." and by client-go's
// warning handlers. Never silence: every such decision reaches the client this way.
// Pure: strings in, header pairs out.
#pragma once

#include <string>
#include <vector>

#include "hub/https_server.h"

namespace berth::hub {

// One `Warning: 299 - "text"` header per distinct message, in order. Control characters become
// spaces and `"`/`\` are escaped, so a message can never break the header block. Like the
// Kubernetes API server, a set longer than 4096 characters in total has each message cut to
// 256 characters, and messages that still do not fit are dropped.
HttpHeaders WarningHeaders(const std::vector<std::string>& messages);

}  // namespace berth::hub
