"""Registering sent messages: the input model (`model`), text checks (`text`), the provider's
submit response read by its adapter and the batch written (`register`), how items of one
batch stand to each other (`links`), and file imports (`importer`, with its fast path for plain
rows in `plain`)."""
