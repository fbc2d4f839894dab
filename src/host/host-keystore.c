/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The host's Keystore: Ed25519 keys (libsodium), one file per account. The secret key is read from its
 * file for each signature and wiped right after, so it spends no time in memory between calls; files and
 * directory are private to the host, and a key file that others may read is refused rather than used. */

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "host-services.h"
#include "macro.h"
#include "util.h"

#define ACCOUNT_HEX_LEN (crypto_sign_PUBLICKEYBYTES * 2)
#define KEY_SUFFIX ".key"

struct HostKeystore {
        char *directory; /* <state>/keys */
};

int host_keystore_new_directory(const char *directory, HostKeystore **ret) {
        HostKeystore *ks;

        if (!directory || directory[0] != '/' || !ret)
                return -EINVAL;
        if (sodium_init() < 0)
                return -EIO;

        ks = new0(HostKeystore, 1);
        if (!ks)
                return -ENOMEM;
        ks->directory = strdup(directory);
        if (!ks->directory) {
                free(ks);
                return -ENOMEM;
        }
        *ret = ks;
        return 0;
}

int host_keystore_new(const char *state_directory, HostKeystore **ret) {
        _cleanup_free_ char *directory = NULL;

        if (!state_directory || state_directory[0] != '/' || !ret)
                return -EINVAL;
        if (asprintf(&directory, "%s/keys", state_directory) < 0)
                return -ENOMEM;
        return host_keystore_new_directory(directory, ret);
}

HostKeystore *host_keystore_free(HostKeystore *ks) {
        if (!ks)
                return NULL;
        free(ks->directory);
        return mfree(ks);
}

const char *host_keystore_get_directory(HostKeystore *ks) {
        return ks ? ks->directory : NULL;
}

static bool account_is_valid(const char *account) {
        if (!account || strlen(account) != ACCOUNT_HEX_LEN)
                return false;
        for (const char *c = account; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                        return false;
        return true;
}

static int mkdir_private(const char *path) {
        struct stat st;
        int r;

        /* Parents as the state directory would be made (private too: it holds the keys). */
        r = mkdir_parents(path, 0700);
        if (r < 0)
                return r;
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
                log_error("Key directory %s is accessible to others (mode %04o, owner " UID_FMT "); refusing to "
                          "use it.", path, (unsigned) (st.st_mode & 07777), (uint32_t) st.st_uid);
                return -EPERM;
        }
        return 0;
}

static int write_all(int fd, const void *data, size_t size) {
        const uint8_t *p = data;

        while (size > 0) {
                ssize_t k = write(fd, p, size);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

int host_keystore_create_account(HostKeystore *ks, char **ret_account) {
        unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
        char account[ACCOUNT_HEX_LEN + 1];
        _cleanup_free_ char *tmp = NULL, *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(ks);

        r = mkdir_private(ks->directory);
        if (r < 0)
                return r;

        crypto_sign_keypair(pk, sk);
        sodium_bin2hex(account, sizeof(account), pk, sizeof(pk));

        if (asprintf(&path, "%s/%s" KEY_SUFFIX, ks->directory, account) < 0 ||
            asprintf(&tmp, "%s/.%s" KEY_SUFFIX ".tmp", ks->directory, account) < 0) {
                r = -ENOMEM;
                goto finish;
        }

        /* Whole or not at all: a key is written aside and renamed into place. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                goto finish;
        }
        r = write_all(fd, sk, sizeof(sk));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        fd = safe_close(fd);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                goto finish;
        }

        log_info("Created key for account %s in %s.", account, ks->directory);
        if (ret_account) {
                *ret_account = strdup(account);
                if (!*ret_account)
                        r = -ENOMEM;
        }

finish:
        sodium_memzero(sk, sizeof(sk));
        return r;
}

static int account_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        return n == ACCOUNT_HEX_LEN + strlen(KEY_SUFFIX) && streq(d->d_name + ACCOUNT_HEX_LEN, KEY_SUFFIX);
}

static int account_compare(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int list_accounts(HostKeystore *ks, char ***ret) {
        struct dirent **list = NULL;
        char **l = NULL;
        size_t k = 0;
        int n;

        n = scandir(ks->directory, &list, account_filter, account_compare);
        if (n < 0) {
                if (errno != ENOENT)
                        return -errno;
                n = 0;
        }

        l = new0(char *, (size_t) n + 1);
        for (int i = 0; i < n; i++) {
                if (l) {
                        char *a = strndup(list[i]->d_name, ACCOUNT_HEX_LEN);

                        if (a && account_is_valid(a))
                                l[k++] = a;
                        else if (!a) {
                                strv_free(l);
                                l = NULL;
                        } else
                                free(a);
                }
                free(list[i]);
        }
        free(list);
        if (!l)
                return -ENOMEM;
        *ret = l;
        return 0;
}

int host_keystore_list(HostKeystore *ks, char ***ret_accounts) {
        assert(ks);
        assert(ret_accounts);

        return list_accounts(ks, ret_accounts);
}

int host_keystore_accounts(HostKeystore *ks, char ***ret_accounts) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(ks);
        assert(ret_accounts);

        r = list_accounts(ks, &l);
        if (r < 0)
                return r;
        if (!l[0]) {
                /* Keys are created on first use: a relayer asking for accounts gets one to sign with. */
                strv_free(TAKE_PTR(l));
                r = host_keystore_create_account(ks, NULL);
                if (r < 0)
                        return r;
                r = list_accounts(ks, &l);
                if (r < 0)
                        return r;
        }
        *ret_accounts = TAKE_PTR(l);
        return 0;
}

static int load_secret_key(HostKeystore *ks, const char *account, unsigned char sk[static crypto_sign_SECRETKEYBYTES]) {
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        char hex[ACCOUNT_HEX_LEN + 1];
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        ssize_t n;

        if (asprintf(&path, "%s/%s" KEY_SUFFIX, ks->directory, account) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
                log_error("Key file %s is accessible to others (mode %04o, owner " UID_FMT "); refusing to use it.",
                          path, (unsigned) (st.st_mode & 07777), (uint32_t) st.st_uid);
                return -EPERM;
        }
        if (st.st_size != crypto_sign_SECRETKEYBYTES) {
                log_error("Key file %s has %jd bytes, expected %u.", path, (intmax_t) st.st_size,
                          (unsigned) crypto_sign_SECRETKEYBYTES);
                return -EBADMSG;
        }
        n = read(fd, sk, crypto_sign_SECRETKEYBYTES);
        if (n != crypto_sign_SECRETKEYBYTES) {
                sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
                return n < 0 ? -errno : -EBADMSG;
        }

        /* The file must hold the key its name claims. */
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        sodium_bin2hex(hex, sizeof(hex), pk, sizeof(pk));
        if (!streq(hex, account)) {
                sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
                log_error("Key file %s holds the key of another account.", path);
                return -EBADMSG;
        }
        return 0;
}

int host_keystore_sign(HostKeystore *ks, const char *account, const void *data, size_t size, SdloopBytes *ret) {
        unsigned char sk[crypto_sign_SECRETKEYBYTES];
        uint8_t *sig;
        int r;

        assert(ks);
        assert(ret);

        if (!account_is_valid(account))
                return -ENOENT;
        if (!data && size > 0)
                return -EINVAL;

        sig = malloc(crypto_sign_BYTES);
        if (!sig)
                return -ENOMEM;

        r = load_secret_key(ks, account, sk);
        if (r < 0) {
                free(sig);
                return r;
        }
        crypto_sign_detached(sig, NULL, data ?: (const void *) "", size, sk);
        sodium_memzero(sk, sizeof(sk));

        *ret = (SdloopBytes) { .data = sig, .size = crypto_sign_BYTES };
        return 0;
}

/* --- org.sdloop1.Keystore --- */

static int keystore_accounts(void *userdata, char ***ret_accounts, sd_bus_error *error) {
        HostKeystore *ks = userdata;
        int r;

        r = host_keystore_accounts(ks, ret_accounts);
        if (r < 0) {
                log_error_errno(r, "Keystore %s: cannot list accounts: %m", ks->directory);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "keystore unavailable: %s", strerror(-r));
        }
        return 0;
}

static int keystore_sign(void *userdata, const char *account, const SdloopBytes *data, SdloopBytes *ret_signed,
                         sd_bus_error *error) {
        HostKeystore *ks = userdata;
        int r;

        if (!account_is_valid(account))
                return sdloop_error_invalid(error, "account", "not an account name (%u hex digits of a public key)",
                                            (unsigned) ACCOUNT_HEX_LEN);

        r = host_keystore_sign(ks, account, data->data, data->size, ret_signed);
        if (r == -ENOENT)
                return sdloop_error_setf(error, SDLOOP_ERROR_NOT_FOUND, "account: no key for %s", account);
        if (r < 0) {
                log_error_errno(r, "Keystore %s: cannot sign with %s: %m", ks->directory, account);
                return sdloop_error_setf(error, SDLOOP_ERROR_INTERNAL, "cannot sign with %s: %s", account,
                                         strerror(-r));
        }
        return 0;
}

const SdloopKeystoreOps host_keystore_ops = {
        .accounts = keystore_accounts,
        .sign = keystore_sign,
};
