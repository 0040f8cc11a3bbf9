# iotauth settings: the checked config, as attributes (config.py fills them; fields not set
# are None). Apart from config.py so that the parser leaves the heap. MIT licence.


class Config:
    pass
