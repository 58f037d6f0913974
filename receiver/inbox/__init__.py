"""The durable inbox: raw requests stored before they are acknowledged (`writer`), and the one
shape of a stored request, from the live request to its row and back (`stored`)."""
