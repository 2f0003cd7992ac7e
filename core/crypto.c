/* Small crypto host services on OpenSSL: base64 (EVP_EncodeBlock) and RS256
 * signatures (RSASSA-PKCS1-v1_5 with SHA-256, EVP_DigestSign) for JWT bearer
 * flows such as Salesforce's.  A private key never reaches a message. */
#include "config.h"
#include "core.h"

#include <openssl/hmac.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

char *base64_encode(const void *data, size_t len, int url)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    out[n < 0 ? 0 : n] = '\0';
    if (url) {
        /* base64url (RFC 4648 section 5) without padding, as JWS wants. */
        for (char *p = out; *p; p++) {
            if (*p == '+') *p = '-';
            else if (*p == '/') *p = '_';
        }
        char *eq = strchr(out, '=');
        if (eq) *eq = '\0';
    }
    return out;
}

revops_status sign_rs256(revops_instance *self, const char *pem, const void *data, size_t len, char **b64url_signature)
{
    *b64url_signature = NULL;
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        if (self) snprintf(self->error, sizeof self->error, "the private key is not an unencrypted PEM RSA private key");
        EVP_PKEY_free(key);
        return REVOPS_ERROR;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, NULL, &siglen, data, len) == 1 && (sig = xmalloc(siglen)) &&
             EVP_DigestSign(md, sig, &siglen, data, len) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    if (!ok) {
        free(sig);
        if (self) snprintf(self->error, sizeof self->error, "RS256 signing failed");
        return REVOPS_ERROR;
    }
    *b64url_signature = base64_encode(sig, siglen, 1);
    free(sig);
    return REVOPS_OK;
}

void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len, char out[65])
{
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)keylen, data, len, mac, &n);
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
}
