// libcurl's process-wide set-up, done once for every client in the agent
// (the etcd client, artifact fetches): curl_global_init itself is not
// thread-safe, and the agent's threads each start a client.
#pragma once

#include <curl/curl.h>

namespace membrane::cluster {

// Whether libcurl could be set up. The first call does it; a function-local
// static makes every other thread wait for that call.
inline bool curlReady() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

}  // namespace membrane::cluster
