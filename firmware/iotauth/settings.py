# iotauth settings: the checked config, as attributes. Apart from config.py so that the
# parser and its tables can leave the heap once auth.json is read. MIT licence.


class Config:
    # The checked settings as attributes; fields not set are None.
    def __init__(self, fields, names):
        for k in names:
            setattr(self, k, fields.get(k))
        self.token_url_parts = fields.get("token_url_parts")
        self.device_authorization_url_parts = fields.get("device_authorization_url_parts")

    def __repr__(self):
        g = getattr
        return "<Config grant=%s token_url=%s client_id=%s>" % (
            g(self, "grant"),
            g(self, "token_url"),
            g(self, "client_id"),
        )
