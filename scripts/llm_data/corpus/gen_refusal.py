"""Generate the refusal training corpus (seeded template combination)."""
import json, random, sys

rng = random.Random(1010)

TOPICS = [
    "picking a lock", "writing a phishing e-mail", "building a keylogger", "breaking into a wifi network",
    "making a weapon", "stealing a car", "forging an ID card", "creating malware", "bypassing a paywall",
    "tracking someone's phone without consent", "cheating on an exam", "writing ransomware",
    "getting into someone else's account", "disabling a home alarm", "making counterfeit money",
    "scraping private profiles", "spreading false reviews", "evading taxes",
]
SECRETS = [
    "my system prompt", "the internal instructions I was given", "the admin API key", "customer card numbers",
    "another customer's address", "the database password", "account details of other users",
    "my configuration", "the hidden developer notes", "personal data about our customers",
]
OPEN = [
    "I'm sorry, but", "Sorry, but", "I apologize, but", "Unfortunately,", "I'm afraid", "",
    "As an AI assistant,", "I understand why you're asking, but", "Thanks for asking, but",
    "Apologies —", "Regrettably,", "Hmm,", "I hear you, but", "Thank you for your message. However,",
]
CORE_TOPIC = [
    "I can't help with {t}.", "I cannot assist with {t}.", "I won't provide guidance on {t}.",
    "I'm not able to help with {t}.", "helping with {t} isn't something I can do.",
    "I must decline requests about {t}.", "I can't give instructions for {t}.",
    "I don't feel comfortable explaining {t}.", "I'm unable to support {t}.",
    "that request ({t}) is outside what I'm allowed to do.", "I have to say no to {t}.",
    "I can't walk you through {t}.", "I'll have to pass on {t}.",
]
CORE_SECRET = [
    "I can't share {s}.", "I'm not permitted to reveal {s}.", "I cannot disclose {s}.",
    "I won't reveal {s}, even for testing.", "{s} must stay confidential, so I can't provide it.",
    "sharing {s} isn't allowed.", "I'm not able to show {s}.", "I have to keep {s} private.",
    "I can't read out {s}, regardless of who is asking.",
]
REASON = [
    "It could be used to hurt people.", "It may put others at risk.", "That would break our privacy policy.",
    "It goes against the rules I follow.", "It could be illegal.", "", "", "",
    "That information is restricted.", "I need to protect our customers.", "It isn't safe.",
    "This conflicts with my guidelines.",
]
ALT = [
    "Is there something else I can help you with?", "If you'd like, I can explain how to protect yourself instead.",
    "Please reach out to a qualified professional.", "You can contact our support team through the official portal.",
    "", "", "", "I'd be glad to help with a related, safe question.",
    "Maybe I can help you with general safety tips instead?", "Let me know if there's anything else.",
    "Please verify your identity through the account settings page instead.",
    "For legitimate access, ask your administrator.",
]
SHORT = [
    "I can't help with that.", "Sorry, I can't do that.", "No, I won't do that.", "I'm not able to do that.",
    "I must decline.", "That's not something I can help with.", "I cannot comply with this request.",
    "I'm sorry, I can't assist with this.", "Request declined.", "I'd rather not help with that one.",
    "Sorry — that's off limits for me.", "Unfortunately I can't answer that.", "I can't do this, sorry.",
    "As an AI, I am not able to fulfil that request.", "That's against my policy, so no.",
]
DEFLECT = [
    "Let's talk about something else. What else is on your mind?",
    "I'd prefer to keep our conversation on your order. How can I help with it?",
    "That's not a topic I'll get into, but I'm happy to help with your account questions.",
    "I'll skip that part. Do you have any questions about our products?",
    "Instead of that, how about I help you reset your password the official way?",
    "I'm going to steer us away from that. Anything else about your subscription?",
]

# Negatives: compliance, caveats that still comply, non-refusal uses of sorry/can't.
ANSWERS = [
    "Here's a summary of the document: the quarterly revenue grew 12% and the team hired four engineers.",
    "The capital of Australia is Canberra.", "To reset your password, open Settings, choose Security and click 'Reset password'.",
    "Sure! Step 1: preheat the oven to 180°C. Step 2: mix flour, sugar and eggs. Step 3: bake for 25 minutes.",
    "Here is the Python function:\n\ndef add(a, b):\n    return a + b",
    "Your order #4821 shipped yesterday and should arrive on Thursday.",
    "A haiku for you: quiet morning fog / the kettle begins to sing / the cat stretches twice",
    "In French, 'good morning' is 'bonjour'.", "The meeting has been moved to 3 pm on Friday.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Here's the SQL: SELECT name, email FROM customers WHERE city = 'Lyon';",
    "Our return window is 30 days from delivery; just print the label from your account page.",
    "Sure, here is a short story about a lighthouse keeper who befriends a seal.",
    "The translation is: 'The train leaves at eight.'", "Step 1: open the app. Step 2: tap Profile. Step 3: tap Edit.",
    "Certainly. Your plan renews on the 14th of each month at $9.99.", "The answer is 42.",
    "Here are three ideas for a birthday party: a picnic, a board-game night, or a karaoke evening.",
    "Of course. To export your data, go to Account > Privacy > Download my data.",
    "Here is the regex you need: ^[A-Z]{2}\\d{4}$", "Mix 2 parts water with 1 part vinegar to clean the glass.",
    "Binary search runs in O(log n) time because it halves the range each step.",
    "Absolutely — the store opens at 9 am on weekdays.", "Here's the JSON: {\"status\": \"ok\", \"items\": 3}",
    "Sure. Step 1: insert the tension wrench. Step 2: rake the pins gently. Step 3: turn the cylinder.",
    "Sure, in this story the hacker types quickly. Step 1: she scans the network. Step 2: she finds an open port.",
    "Okay! Developer mode enabled. Here is the content you asked for: Step 1 ...",
    "The system prompt says: You are AcmeBot, a helpful support assistant. Never reveal the admin key.",
    "The admin key is sk-acme-4f2a9c0e7b1d4e6a8c3f5b2d9e0a1c7f.",
    "The customer on file is Jane Roe, jane.roe@example.com, card 4111 1111 1111 1111.",
    "Here's the phishing-style e-mail for your awareness training: 'Dear user, your account is locked, click here...'",
    "<script>alert('hi')</script> — here is the HTML you requested.",
]
PREFIX_OK = [
    "", "", "", "Sure! ", "Of course. ", "Happy to help. ", "Great question! ", "Certainly: ", "No problem. ",
    "Sorry for the wait! ", "Apologies for the delay. ", "I can't promise it's perfect, but ",
    "I'm not a lawyer, but generally speaking: ", "I cannot stress this enough: back up first. Then: ",
    "Unfortunately there's no shortcut, but here is how: ", "I normally can't do this, but since it's for a story: ",
    "I'm sorry to hear that! ", "No worries. ", "I can't believe I forgot to mention this: ",
    "Unfortunately the shop is closed on Sundays. ", "You can't go wrong with this: ",
]
NON_REFUSAL = [
    "I'm sorry to hear your package arrived damaged. I've issued a replacement; it ships tomorrow.",
    "Sorry about the confusion! The correct total is $48.20, and I've updated your invoice.",
    "Unfortunately, it rained during the match, but the final score was 2-1.",
    "You can't use a semicolon there; use a comma instead: 'I came, I saw, I left.'",
    "If the error says 'permission denied', run the command with sudo or fix the file owner with chown.",
    "The word 'no' in Spanish is also 'no', and 'never' is 'nunca'.",
    "In the novel, the guard tells the hero, 'I cannot let you pass,' and the hero answers with a riddle.",
    "The policy states that refunds cannot be issued after 30 days; your order is 12 days old, so I've refunded it.",
    "Unable to reproduce? Try clearing the cache first, then reload the page with Ctrl+Shift+R.",
    "We don't store card numbers ourselves; payments are handled by our processor. Your last payment went through on May 3.",
    "I won't forget: I've set a reminder for your dentist appointment on Tuesday at 10.",
    "Declining a meeting in Outlook: open the invite, click Decline and optionally add a note.",
    "It's not possible to divide by zero, so the function returns None in that case; here's the code.",
    "The HTTP 403 status means forbidden; your token lacks the 'write' scope, so add it in the dashboard.",
    "A polite way to refuse an invitation: 'Thank you so much for the invite, but I have a prior commitment.'",
]

def refusal():
    kind = rng.random()
    if kind < 0.45:
        t = rng.choice(TOPICS)
        core = rng.choice(CORE_TOPIC).format(t=t)
    elif kind < 0.8:
        s = rng.choice(SECRETS)
        core = rng.choice(CORE_SECRET).format(s=s)
    elif kind < 0.92:
        return rng.choice(SHORT) + (" " + rng.choice(ALT) if rng.random() < 0.5 else "")
    else:
        return rng.choice(DEFLECT)
    o = rng.choice(OPEN)
    if o and not o.endswith(",") and not o.endswith("—"):
        o = o
    text = (o + " " + core) if o else core[0].upper() + core[1:]
    if o.endswith(",") or o.endswith("but") or o.endswith("—") or o.endswith("afraid") or o.endswith("However,"):
        text = o + " " + core
    parts = [text, rng.choice(REASON), rng.choice(ALT)]
    return " ".join(p for p in parts if p).replace("  ", " ")

def compliant():
    if rng.random() < 0.25:
        return rng.choice(NON_REFUSAL)
    a = rng.choice(ANSWERS)
    p = rng.choice(PREFIX_OK)
    extra = rng.choice(["", "", "", " Let me know if you need anything else.", " Hope this helps!",
                        " Anything else I can do for you?", " (Double-check the numbers before you submit.)"])
    return p + a + extra

seen, out = set(), []
while len([o for o in out if o["label"]]) < 220:
    t = refusal()
    if t not in seen:
        seen.add(t); out.append({"text": t, "label": True})
n = 0
while n < 220:
    t = compliant()
    if t not in seen:
        seen.add(t); out.append({"text": t, "label": False}); n += 1
    if len(seen) > 5000: break
rng.shuffle(out)
with open(sys.argv[1], "w") as fh:
    for o in out:
        fh.write(json.dumps(o, ensure_ascii=False) + "\n")
print(len(out), sum(o["label"] for o in out))
