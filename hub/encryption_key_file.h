// Where berth-hub's Secret encryption keys come from (hub/secret_encryption.h): the file
// named by --encryption-key-file, or, without the flag, <data-dir>/encryption.key, which
// the hub creates (one random key, mode 0600) on first start. A named file that does not
// exist is an error: the hub never invents a key at a path an operator chose.
#pragma once

#include <memory>
#include <string>

#include "api/status.h"
#include "hub/secret_encryption.h"

namespace berth::hub {

// `flag_path` empty: the default file in `data_dir`.
StatusOr<std::shared_ptr<const SecretCipher>> LoadEncryptionKeys(const std::string& flag_path,
                                                                 const std::string& data_dir);

}  // namespace berth::hub
