"""Knowledge: the text of uploaded files (`extract`), cut into chunks of a few hundred tokens (`chunk`)."""
