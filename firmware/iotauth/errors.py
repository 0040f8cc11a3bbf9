# iotauth errors: one root, three outcomes that tell the caller what to do next.
# MIT licence.


class AuthError(Exception):
    pass


# The config file is wrong: fix auth.json, retrying will not help.
class ConfigError(AuthError):
    pass


# The server refused the credentials or the grant (RFC 6749 5.2). The agent waits
# long before asking again; re-provision the device if it persists.
class CredentialsError(AuthError):
    def __init__(self, msg, error=None, error_description=None):
        super().__init__(msg)
        self.error = error
        self.error_description = error_description


# Network, TLS, server or response trouble: try again after retry_after seconds.
class TransientError(AuthError):
    pending = False  # True while a device authorization waits for the user (not a failure)

    def __init__(self, msg, retry_after=0):
        super().__init__(msg)
        self.retry_after = retry_after
