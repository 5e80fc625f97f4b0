/*
 * AES-256-GCM for the bus, without a Node Cipher object per message.
 *
 * Node's crypto makes a native Cipher object for every createCipheriv/createDecipheriv. Each costs
 * ~5-8 µs here, and each has a weak handle that the young-generation GC must process when it dies:
 * with four per request/response, that phase took ~1 ms of every ~2.4 ms scavenge pause of the
 * request/response bench. This addon runs the same OpenSSL (the one inside Node: its symbols are
 * resolved from the node binary at load time) through one reused EVP context per direction, and
 * writes into buffers the caller allocated: ~1 µs per call, and nothing for the GC to finalise.
 *
 * seal(key, nonce, aad, plaintext, out, tag)      -> undefined; out = ciphertext, tag = GCM tag
 * open(key, nonce, aad, ciphertext, tag, out)     -> true, or false (out zeroed) if it does not verify
 *
 * Every argument is a Uint8Array (a Buffer is one) over an unshared ArrayBuffer: key 32 bytes,
 * nonce 12, tag 16, out exactly as long as the input, and out either the input itself or not
 * overlapping it. A wrong argument throws a TypeError naming it and writes nothing.
 *
 * The contexts live per Node environment (main thread, each worker thread), so threads never share
 * one. A context keeps the last key schedule until the next call or until the environment exits
 * (then it is cleansed and freed); the keys themselves live in the same process, in the keystore.
 */
#define NAPI_VERSION 8
#include <limits.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16

typedef struct {
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
} Contexts;

typedef struct {
  unsigned char *data;
  size_t length;
} Bytes;

static void free_contexts(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Contexts *contexts = data;
  EVP_CIPHER_CTX_free(contexts->seal);
  EVP_CIPHER_CTX_free(contexts->open);
  free(contexts);
}

/*
 * Reads a Uint8Array argument; on failure throws a TypeError naming it and returns 0. Arrays over a
 * SharedArrayBuffer are refused: another thread could read a failed open's plaintext before it is
 * zeroed, or change the input between authenticating and decrypting it.
 */
static int bytes_arg(napi_env env, napi_value value, const char *name, Bytes *out) {
  bool is_typed_array = false;
  bool is_array_buffer = false;
  napi_typedarray_type type;
  napi_value backing;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed_array) == napi_ok && is_typed_array &&
      napi_get_typedarray_info(env, value, &type, &out->length, &data, &backing, NULL) == napi_ok &&
      type == napi_uint8_array &&
      napi_is_arraybuffer(env, backing, &is_array_buffer) == napi_ok && is_array_buffer) {
    /* an empty array may have no storage: point at something valid that is never read */
    static unsigned char empty;
    out->data = data ? data : &empty;
    return 1;
  }
  char message[112];
  snprintf(message, sizeof message, "aes-gcm: %s must be a Uint8Array over an ArrayBuffer (not shared)",
           name);
  napi_throw_type_error(env, NULL, message);
  return 0;
}

static int fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return 0;
}

/* True when the two byte ranges share a byte. */
static int overlaps(const Bytes *a, const Bytes *b) {
  uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
  if (a->length == 0 || b->length == 0) return 0;
  return a0 < b0 + b->length && b0 < a0 + a->length;
}

/*
 * Reads the six arguments: key, nonce, aad, input, then `tag` and `out` in the order the call takes
 * them (seal: out, tag; open: tag, out). Checks every length before anything is computed.
 */
static int read_args(napi_env env, napi_callback_info info, int tag_first, Bytes *key, Bytes *nonce,
                     Bytes *aad, Bytes *input, Bytes *tag, Bytes *out) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6)
    return fail(env, "aes-gcm: expects 6 arguments");
  const char *input_name = tag_first ? "ciphertext" : "plaintext";
  if (!bytes_arg(env, argv[0], "key", key) || !bytes_arg(env, argv[1], "nonce", nonce) ||
      !bytes_arg(env, argv[2], "aad", aad) || !bytes_arg(env, argv[3], input_name, input) ||
      !bytes_arg(env, argv[tag_first ? 4 : 5], "tag", tag) ||
      !bytes_arg(env, argv[tag_first ? 5 : 4], "out", out))
    return 0;
  if (key->length != KEY_BYTES) return fail(env, "aes-gcm: key must be 32 bytes");
  if (nonce->length != NONCE_BYTES) return fail(env, "aes-gcm: nonce must be 12 bytes");
  if (tag->length != TAG_BYTES) return fail(env, "aes-gcm: tag must be 16 bytes");
  if (out->length != input->length) return fail(env, "aes-gcm: out must be as long as the input");
  if (input->length > INT_MAX || aad->length > INT_MAX)
    return fail(env, "aes-gcm: input and aad must each be under 2 GiB");
  if (overlaps(out, input) && out->data != input->data)
    return fail(env, "aes-gcm: out must be the input itself or apart from it");
  if (overlaps(out, tag)) return fail(env, "aes-gcm: out and tag must not overlap");
  return 1;
}

static Contexts *contexts_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static napi_value seal(napi_env env, napi_callback_info info) {
  Bytes key, nonce, aad, plain, out, tag;
  if (!read_args(env, info, 0, &key, &nonce, &aad, &plain, &tag, &out)) return NULL;
  EVP_CIPHER_CTX *ctx = contexts_of(env)->seal;
  int n = 0;
  int ok = EVP_EncryptInit_ex(ctx, NULL, NULL, key.data, nonce.data) == 1 &&
           (aad.length == 0 || EVP_EncryptUpdate(ctx, NULL, &n, aad.data, (int)aad.length) == 1) &&
           (plain.length == 0 || EVP_EncryptUpdate(ctx, out.data, &n, plain.data, (int)plain.length) == 1) &&
           EVP_EncryptFinal_ex(ctx, out.data, &n) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag.data) == 1;
  if (!ok) napi_throw_error(env, NULL, "aes-gcm: OpenSSL could not encrypt");
  return NULL;
}

static napi_value open_(napi_env env, napi_callback_info info) {
  Bytes key, nonce, aad, sealed, tag, out;
  if (!read_args(env, info, 1, &key, &nonce, &aad, &sealed, &tag, &out)) return NULL;
  EVP_CIPHER_CTX *ctx = contexts_of(env)->open;
  int n = 0;
  int ok = EVP_DecryptInit_ex(ctx, NULL, NULL, key.data, nonce.data) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag.data) == 1 &&
           (aad.length == 0 || EVP_DecryptUpdate(ctx, NULL, &n, aad.data, (int)aad.length) == 1) &&
           (sealed.length == 0 || EVP_DecryptUpdate(ctx, out.data, &n, sealed.data, (int)sealed.length) == 1) &&
           EVP_DecryptFinal_ex(ctx, out.data, &n) == 1;
  /* nothing unauthenticated leaves: a failed open leaves zeros where the plaintext would be */
  if (!ok) OPENSSL_cleanse(out.data, out.length);
  napi_value result = NULL;
  if (napi_get_boolean(env, ok, &result) != napi_ok) napi_throw_error(env, NULL, "aes-gcm: no boolean");
  return result;
}

NAPI_MODULE_INIT() {
  Contexts *contexts = malloc(sizeof *contexts);
  if (!contexts) {
    napi_throw_error(env, NULL, "aes-gcm: out of memory");
    return NULL;
  }
  contexts->seal = EVP_CIPHER_CTX_new();
  contexts->open = EVP_CIPHER_CTX_new();
  if (!contexts->seal || !contexts->open ||
      EVP_EncryptInit_ex(contexts->seal, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
      EVP_DecryptInit_ex(contexts->open, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) {
    free_contexts(env, contexts, NULL);
    napi_throw_error(env, NULL, "aes-gcm: OpenSSL has no AES-256-GCM");
    return NULL;
  }
  if (napi_set_instance_data(env, contexts, free_contexts, NULL) != napi_ok) {
    free_contexts(env, contexts, NULL);
    napi_throw_error(env, NULL, "aes-gcm: could not keep its contexts");
    return NULL;
  }
  napi_value seal_fn = NULL, open_fn = NULL;
  if (napi_create_function(env, "seal", NAPI_AUTO_LENGTH, seal, NULL, &seal_fn) != napi_ok ||
      napi_set_named_property(env, exports, "seal", seal_fn) != napi_ok ||
      napi_create_function(env, "open", NAPI_AUTO_LENGTH, open_, NULL, &open_fn) != napi_ok ||
      napi_set_named_property(env, exports, "open", open_fn) != napi_ok) {
    napi_throw_error(env, NULL, "aes-gcm: could not export seal and open");
    return NULL;
  }
  return exports;
}
