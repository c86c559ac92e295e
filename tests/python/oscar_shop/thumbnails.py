from types import SimpleNamespace

from oscar.core.thumbnails import AbstractThumbnailer


class NoThumbnails(AbstractThumbnailer):
    def generate_thumbnail(self, source, **opts):
        return SimpleNamespace(url="/static/none.png")

    def delete_thumbnails(self, source):
        pass
